import { DateTimeResolver } from 'graphql-scalars';
import { builder } from './builder.js';

// graphql-scalars' DateTime (RFC 3339, UTC): rows store ISO-8601 text, which it sends as is.
builder.addScalarType('DateTime', DateTimeResolver);
