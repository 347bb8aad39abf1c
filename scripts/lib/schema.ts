/**
 * The statements of schema.sql, for applying it through D1's `batch` (which takes one statement
 * per prepared query): comments dropped, split at `;`. schema.sql keeps no `;` inside a
 * statement, so this simple split is exact for it. Pure, so the workerd tests and the Node
 * benchmark share it.
 */
export function schemaStatements(schema: string): string[] {
  return schema
    .replace(/--.*$/gm, '')
    .split(';')
    .map((statement) => statement.trim())
    .filter(Boolean)
}
