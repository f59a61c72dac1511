import { readFileSync } from 'node:fs';
import { AppError } from '../errors.ts';
import { institutionsFileSchema, parseOrThrow, type InstitutionDefinition } from './institution.schemas.ts';

/** A bad INSTITUTIONS_FILE: start-up stops, naming the file and every bad field. */
export class InstitutionsFileError extends Error {
  constructor(file: string, problems: string[]) {
    super(`INSTITUTIONS_FILE (${file}) is not a valid institutions file:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'InstitutionsFileError';
  }
}

/**
 * Reads and validates the institutions file (docs/institutions.md): `{ "institutions": [ … ] }`, each entry a whole
 * institution as `institutions:add` takes it. Nothing is written until all of it is valid.
 */
export function loadInstitutionsFile(file: string): InstitutionDefinition[] {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InstitutionsFileError(file, [`cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new InstitutionsFileError(file, [`is not JSON (${(error as Error).message})`]);
  }
  try {
    return parseOrThrow(institutionsFileSchema, value).institutions;
  } catch (error) {
    if (error instanceof AppError) throw new InstitutionsFileError(file, error.message.split('\n'));
    throw error;
  }
}
