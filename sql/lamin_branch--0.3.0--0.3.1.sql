-- lamin_branch 0.3.0 -> 0.3.1
--
-- The module builds and runs on PostgreSQL 15 to 18; its planner hook leaves WHERE CURRENT OF on
-- a view to Postgres, keeps a query's column aliases on the right columns, and builds a view's
-- whole row from the table's columns. Nothing in the SQL objects changes.
\echo Use "ALTER EXTENSION lamin_branch UPDATE TO '0.3.1'" to load this file. \quit
