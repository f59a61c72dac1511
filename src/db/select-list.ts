import type { EntityMetadata } from 'typeorm';

const built = new WeakMap<EntityMetadata, Map<string, string>>();

/**
 * An entity's selectable columns as a SELECT list, `alias."column" AS "property"`: rows come back named as the
 * entity's properties, so `repository.create(rows)` builds the same entities TypeORM's loader would (the entities
 * have no column transformers). `alsoSelect` adds columns that are `select: false` (ciphertexts), by property name.
 * Built once per entity, alias and extras.
 */
export function selectList(metadata: EntityMetadata, alias: string, alsoSelect: readonly string[] = []): string {
  let lists = built.get(metadata);
  if (!lists) built.set(metadata, (lists = new Map()));
  const key = `${alias}:${alsoSelect.join(',')}`;
  let list = lists.get(key);
  if (!list) {
    list = metadata.columns
      .filter((c) => c.isSelect || alsoSelect.includes(c.propertyName))
      .map((c) => `${alias}."${c.databaseName}" AS "${c.propertyName}"`)
      .join(', ');
    lists.set(key, list);
  }
  return list;
}
