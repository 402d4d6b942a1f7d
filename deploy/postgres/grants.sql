-- Run in the dossier database after every migration (idempotent), as dossier_owner or a
-- superuser. The running service gets full DML on its tables except the dossier log
-- (nhật ký hồ sơ), which it may only append to and read: no UPDATE, DELETE or TRUNCATE,
-- so even a compromised service cannot rewrite a dossier's history. The hash chain
-- (python -m services.dossier.verify_chain) catches what a database owner might change.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO dossier_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO dossier_app;
ALTER DEFAULT PRIVILEGES FOR ROLE dossier_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dossier_app;
ALTER DEFAULT PRIVILEGES FOR ROLE dossier_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO dossier_app;

REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON dossier_log FROM dossier_app;
GRANT SELECT, INSERT ON dossier_log TO dossier_app;

-- The service checks the schema version at start but never changes it.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM dossier_app;
GRANT SELECT ON alembic_version TO dossier_app;
