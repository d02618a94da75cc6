import { BadUserInputError } from '../errors.js';
import { builder } from './builder.js';

builder.scalarType('DateTime', {
  description: 'An ISO-8601 date-time string, such as 2026-11-24T12:00:00.000Z.',
  serialize: (value) => (typeof value === 'string' ? value : value.toISOString()),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
    if (Number.isNaN(date.getTime())) throw new BadUserInputError('A DateTime must be an ISO-8601 string, such as 2026-11-24T12:00:00.000Z.');
    return date;
  },
});
