/** A SQL list of string literals for CHECK constraints and partial-index predicates built from the enum arrays. */
export const sqlList = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');
