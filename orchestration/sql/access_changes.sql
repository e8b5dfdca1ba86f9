-- What changed between two published syncs ($previous_sync_id -> $sync_id), one row per change:
-- grants added/removed, users added/removed/activated/deactivated/hidden/renamed, groups added/removed/
-- renamed (a rename: the same id, another display name; `previous_display_name` holds the old one).
-- Display names come from the snapshots: an added grant's from the new sync, a removed one's from
-- the previous sync (the user or group may be gone now). changed_at is the new sync's publish time.
-- Grants added and removed come from one full outer join on grant_id, not two anti joins: one hash
-- table over the snapshots instead of two (M 0.2-0.47 -> 0.12-0.15 s, ~1M grants 2.0-3.1 -> 1.3-1.7 s;
-- docs/benchmarks.md, twelfth round).
INSERT INTO c1.access_changes BY NAME
WITH
new_grants AS (SELECT * FROM c1.history_grants WHERE sync_id = $sync_id),
old_grants AS (SELECT * FROM c1.history_grants WHERE sync_id = $previous_sync_id),
new_users AS (SELECT * FROM c1.history_users WHERE sync_id = $sync_id),
old_users AS (SELECT * FROM c1.history_users WHERE sync_id = $previous_sync_id),
new_groups AS (SELECT * FROM c1.history_groups WHERE sync_id = $sync_id),
old_groups AS (SELECT * FROM c1.history_groups WHERE sync_id = $previous_sync_id),
changes AS (
    SELECT CASE WHEN n.grant_id IS NULL THEN 'grant_removed' ELSE 'grant_added' END AS change,
           'grant' AS object_type, coalesce(n.grant_id, o.grant_id) AS object_id,
           CASE WHEN n.grant_id IS NULL THEN o.group_id ELSE n.group_id END AS group_id,
           CASE WHEN n.grant_id IS NULL THEN o.principal_type ELSE n.principal_type END AS principal_type,
           CASE WHEN n.grant_id IS NULL THEN o.principal_id ELSE n.principal_id END AS principal_id,
           CAST(NULL AS VARCHAR) AS display_name, n.grant_id IS NOT NULL AS in_new,
           CAST(NULL AS VARCHAR) AS previous_display_name
    FROM new_grants n FULL OUTER JOIN old_grants o ON n.grant_id = o.grant_id
    WHERE n.grant_id IS NULL OR o.grant_id IS NULL
    UNION ALL
    SELECT 'user_added', 'user', n.user_id, NULL, 'user', n.user_id, n.display_name, true, NULL
    FROM new_users n ANTI JOIN old_users o USING (user_id)
    UNION ALL
    SELECT 'user_removed', 'user', o.user_id, NULL, 'user', o.user_id, o.display_name, false, NULL
    FROM old_users o ANTI JOIN new_users n USING (user_id)
    UNION ALL
    -- by the new status: ENABLED activated, DISABLED deactivated, UNSPECIFIED hidden (a member
    -- /people no longer returns: not deactivated in xMatters, only out of the account's scope)
    SELECT CASE n.status WHEN 'ENABLED' THEN 'user_activated' WHEN 'DISABLED' THEN 'user_deactivated'
                ELSE 'user_hidden' END,
           'user', n.user_id, NULL, 'user', n.user_id, n.display_name, true, NULL
    FROM new_users n JOIN old_users o USING (user_id)
    WHERE n.status IS DISTINCT FROM o.status
    UNION ALL
    SELECT 'user_renamed', 'user', n.user_id, NULL, 'user', n.user_id, n.display_name, true, o.display_name
    FROM new_users n JOIN old_users o USING (user_id)
    WHERE n.display_name IS DISTINCT FROM o.display_name
    UNION ALL
    SELECT 'group_added', 'group', n.group_id, n.group_id, NULL, NULL, n.display_name, true, NULL
    FROM new_groups n ANTI JOIN old_groups o USING (group_id)
    UNION ALL
    SELECT 'group_removed', 'group', o.group_id, o.group_id, NULL, NULL, o.display_name, false, NULL
    FROM old_groups o ANTI JOIN new_groups n USING (group_id)
    UNION ALL
    SELECT 'group_renamed', 'group', n.group_id, n.group_id, NULL, NULL, n.display_name, true, o.display_name
    FROM new_groups n JOIN old_groups o USING (group_id)
    WHERE n.display_name IS DISTINCT FROM o.display_name
)
SELECT
    $sync_id AS sync_id,
    $previous_sync_id AS previous_sync_id,
    (SELECT published_at FROM c1.sync_runs WHERE sync_id = $sync_id) AS changed_at,
    c.change, c.object_type, c.object_id, c.group_id,
    CASE WHEN c.in_new THEN coalesce(gn.display_name, go.display_name)
         ELSE coalesce(go.display_name, gn.display_name) END AS group_name,
    c.principal_type, c.principal_id,
    CASE WHEN c.in_new THEN coalesce(un.display_name, pgn.display_name, uo.display_name, pgo.display_name)
         ELSE coalesce(uo.display_name, pgo.display_name, un.display_name, pgn.display_name) END
        AS principal_name,
    c.display_name,
    c.previous_display_name
FROM changes c
LEFT JOIN new_groups gn ON gn.group_id = c.group_id
LEFT JOIN old_groups go ON go.group_id = c.group_id
LEFT JOIN new_users un ON c.principal_type = 'user' AND un.user_id = c.principal_id
LEFT JOIN old_users uo ON c.principal_type = 'user' AND uo.user_id = c.principal_id
LEFT JOIN new_groups pgn ON c.principal_type = 'group' AND pgn.group_id = c.principal_id
LEFT JOIN old_groups pgo ON c.principal_type = 'group' AND pgo.group_id = c.principal_id
ORDER BY c.change, c.object_id;
