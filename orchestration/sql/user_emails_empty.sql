-- c1_staging.user_emails when no EMAIL device was ever extracted (the raw table does not exist).
CREATE OR REPLACE TABLE c1_staging.user_emails (
    user_id VARCHAR,
    address VARCHAR,
    is_primary BOOLEAN,
    device_id VARCHAR,
    device_name VARCHAR,
    sequence BIGINT
);
