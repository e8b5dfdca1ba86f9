-- What changed between two published syncs ($previous_sync_id -> $sync_id), one row per change:
-- grants added/removed, users added/removed/activated/deactivated, groups added/removed.
INSERT INTO c1.access_changes
WITH
new_grants AS (SELECT * FROM c1.history_grants WHERE sync_id = $sync_id),
old_grants AS (SELECT * FROM c1.history_grants WHERE sync_id = $previous_sync_id),
new_users AS (SELECT * FROM c1.history_users WHERE sync_id = $sync_id),
old_users AS (SELECT * FROM c1.history_users WHERE sync_id = $previous_sync_id),
new_groups AS (SELECT * FROM c1.history_groups WHERE sync_id = $sync_id),
old_groups AS (SELECT * FROM c1.history_groups WHERE sync_id = $previous_sync_id),
changes AS (
    SELECT 'grant_added' AS change, 'grant' AS object_type, n.grant_id AS object_id, n.group_id,
           n.principal_id, CAST(NULL AS VARCHAR) AS display_name
    FROM new_grants n ANTI JOIN old_grants o USING (grant_id)
    UNION ALL
    SELECT 'grant_removed', 'grant', o.grant_id, o.group_id, o.principal_id, NULL
    FROM old_grants o ANTI JOIN new_grants n USING (grant_id)
    UNION ALL
    SELECT 'user_added', 'user', n.user_id, NULL, n.user_id, n.display_name
    FROM new_users n ANTI JOIN old_users o USING (user_id)
    UNION ALL
    SELECT 'user_removed', 'user', o.user_id, NULL, o.user_id, o.display_name
    FROM old_users o ANTI JOIN new_users n USING (user_id)
    UNION ALL
    SELECT CASE WHEN n.status = 'ENABLED' THEN 'user_activated' ELSE 'user_deactivated' END,
           'user', n.user_id, NULL, n.user_id, n.display_name
    FROM new_users n JOIN old_users o USING (user_id)
    WHERE (n.status = 'ENABLED') <> (o.status = 'ENABLED')
    UNION ALL
    SELECT 'group_added', 'group', n.group_id, n.group_id, NULL, n.display_name
    FROM new_groups n ANTI JOIN old_groups o USING (group_id)
    UNION ALL
    SELECT 'group_removed', 'group', o.group_id, o.group_id, NULL, o.display_name
    FROM old_groups o ANTI JOIN new_groups n USING (group_id)
)
SELECT $sync_id AS sync_id, $previous_sync_id AS previous_sync_id, * FROM changes
ORDER BY change, object_id;
