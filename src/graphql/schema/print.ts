import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './index.js';

/** The SDL committed as schema.graphql: sorted, so that a diff shows real changes only. */
export const printSchemaSdl = (): string => `${printSchema(lexicographicSortSchema(schema))}\n`;
