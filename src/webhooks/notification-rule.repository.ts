import type { EntityManager } from 'typeorm';

/** finAPI's rule on deleting connections: rules scoped only to them are deleted, others just stop naming them. */
export async function removeConnectionsFromRules(m: EntityManager, appId: string, connectionIds: string[]): Promise<void> {
  if (connectionIds.length === 0) return;
  await m.query(`DELETE FROM notification_rules WHERE app_id = $1 AND connection_ids IS NOT NULL AND connection_ids <@ $2::uuid[]`, [
    appId,
    connectionIds,
  ]);
  await m.query(
    `UPDATE notification_rules
       SET connection_ids = ARRAY(SELECT x FROM unnest(connection_ids) AS x WHERE x <> ALL($2::uuid[])), updated_at = now()
     WHERE app_id = $1 AND connection_ids && $2::uuid[]`,
    [appId, connectionIds],
  );
}
