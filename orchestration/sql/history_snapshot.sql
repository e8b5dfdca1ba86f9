-- The history tables: one snapshot per published sync, so later syncs can say what changed.
-- history.py runs these statements in the publish transaction, then copies the c1 tables in.
CREATE TABLE IF NOT EXISTS c1.history_users (sync_id VARCHAR, user_id VARCHAR, display_name VARCHAR, status VARCHAR);
CREATE TABLE IF NOT EXISTS c1.history_groups (sync_id VARCHAR, group_id VARCHAR, display_name VARCHAR);
CREATE TABLE IF NOT EXISTS c1.history_grants (
    sync_id VARCHAR, grant_id VARCHAR, group_id VARCHAR, principal_type VARCHAR, principal_id VARCHAR
);
