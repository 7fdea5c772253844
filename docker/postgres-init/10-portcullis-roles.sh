#!/bin/sh
# Runs once, when the postgres container initialises an empty volume (docker-entrypoint-initdb.d).
# POSTGRES_USER (portcullis) owns the schema and runs migrations; the service logs in as
# portcullis_service, a member of portcullis_app, which the migrations grant normal DML on every
# table but only INSERT and SELECT on the audit tables (README "Database roles").
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v service_password="$PORTCULLIS_SERVICE_DB_PASSWORD" <<'SQL'
CREATE ROLE portcullis_app NOLOGIN;
CREATE ROLE portcullis_service LOGIN PASSWORD :'service_password' IN ROLE portcullis_app;
SQL
