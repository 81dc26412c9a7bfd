-- schema/00-head.sql — the first lines of the assembled install script dsx--1.1.sql.
\echo Use "CREATE EXTENSION dsx" to load this file. \quit
