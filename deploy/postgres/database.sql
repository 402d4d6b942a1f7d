-- Run once in the dossier database (after CREATE DATABASE), as a superuser, before the
-- first migration: only the owner role can create tables; the service's role can connect
-- and use the schema, and gets its table rights from grants.sql.
DO $$
BEGIN
  EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO dossier_owner, dossier_app', current_database());
END
$$;
ALTER SCHEMA public OWNER TO dossier_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO dossier_app;
