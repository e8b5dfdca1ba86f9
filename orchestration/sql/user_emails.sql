-- c1_staging.user_emails: people's EMAIL device addresses, only with --sync-emails ($sync_emails).
-- The primary address is the device xMatters tries first: the lowest `sequence`, then the device id.
CREATE OR REPLACE TABLE c1_staging.user_emails AS
WITH devices AS (
    SELECT *
    FROM xmatters_raw.email_devices
    WHERE $sync_emails AND nullif(email_address, '') IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY id) = 1
)
SELECT
    owner__id AS user_id,
    email_address AS address,
    row_number() OVER (PARTITION BY owner__id ORDER BY sequence NULLS LAST, id) = 1 AS is_primary,
    id AS device_id,
    name AS device_name,
    sequence
FROM devices
ORDER BY user_id, sequence NULLS LAST, device_id;
