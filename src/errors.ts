/**
 * An expected failure, with the code clients branch on (`extensions.code` once it reaches them) and
 * the details that explain it. Plain errors: the bank, the locks and the database raise them
 * knowing nothing of GraphQL, and src/graphql/errors.ts turns them into GraphQL errors at the edge.
 * Anything that is not a CodedError is a bug, masked as "Unexpected error.".
 */
export class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}
