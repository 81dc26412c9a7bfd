-- updates/1.0--1.1.sql — what takes a 1.0 database to 1.1 before the code is replayed.
--
-- dsx--1.0--1.1.sql is this file followed by every code part of schema/ (the files that are
-- not *.type.sql or *.tables.sql), the same files the fresh install script dsx--1.1.sql is
-- assembled from: a function, trigger, view, policy or privilege is defined once, in its
-- part, and an update replaces it from there. What stands here is only what a code part
-- cannot say: changes to the tables and types a 1.0 database already has, objects 1.1
-- creates once, and 1.0 objects 1.1 no longer has. test/upgrade.sh checks that a 1.0
-- database updated by this script has the catalogue of a fresh 1.1 install.
\echo Use "ALTER EXTENSION dsx UPDATE TO '1.1'" to load this file. \quit
