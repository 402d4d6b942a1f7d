-- Roles of the dossier service's database; run once per cluster, as a superuser.
-- dossier_owner owns the schema and runs the migrations; dossier_app is the role the
-- running service connects as. Set their passwords from the deployment's secrets:
--   ALTER ROLE dossier_owner PASSWORD '...';  ALTER ROLE dossier_app PASSWORD '...';
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dossier_owner') THEN
    CREATE ROLE dossier_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dossier_app') THEN
    CREATE ROLE dossier_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
END
$$;
