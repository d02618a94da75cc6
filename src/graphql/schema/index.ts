// Loads every area of the schema, then builds it. Area files register themselves with the builder.
import { builder } from './builder.js';
import './scalars.js';
import './hello.js';
import './account.js';
import './transfer.js';
import './counter.js';
import './job.js';

export const schema = builder.toSchema();
