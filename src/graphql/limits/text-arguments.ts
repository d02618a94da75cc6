import { Kind, type ArgumentNode, type DirectiveNode, type DocumentNode, type ExecutionArgs, type ExecutionResult, type SelectionSetNode, type ValueNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { BadUserInputError } from '../errors.js';

/**
 * Every string argument is text, and not too long, before anything runs: literals in the document
 * and variables, in lists and input objects (submitTransfers' items), ID arguments too. Refused
 * with BAD_USER_INPUT, naming the argument:
 *
 * - a NUL (U+0000): PostgreSQL cannot store it in `text` and fails the statement, SQLite stores it;
 * - a lone UTF-16 surrogate (not well-formed Unicode; it can only come in a JSON variable, GraphQL's
 *   parser refuses it in a literal): encoded to UTF-8 it becomes U+FFFD, so that "\ud800" and
 *   "\udbff" name one counter, and the name read back is not the name written;
 * - more than MAX_STRING_LENGTH characters (code points): no argument needs that many, and a long
 *   string repeated by aliases makes a large answer from a small request.
 *
 * Checked here once, at the edge, rather than by each resolver or each database: every resolver,
 * the queue and both databases then see the same strings. The literals of a document are checked
 * once per document (Yoga's parser cache hands back the same DocumentNode for the same text),
 * variables on every request: for `{ hello }`, a WeakMap lookup.
 *
 * The document has passed validation when this runs, so its values nest only as deep as the
 * schema's input types; variables are raw JSON, as deep as the client made them, so they are
 * walked without recursion.
 */
export function useTextArguments(maxLength: number): Plugin {
  const documents = new WeakMap<DocumentNode, DocumentTexts>();
  const refuseMalformed = ({ args, setResultAndStopExecution }: { args: ExecutionArgs; setResultAndStopExecution: (result: ExecutionResult) => void }) => {
    let texts = documents.get(args.document);
    if (!texts) documents.set(args.document, (texts = readDocument(args.document, maxLength)));
    const refusal = texts.refusal ?? checkVariables(args.variableValues, maxLength, texts.variableArguments);
    if (refusal) setResultAndStopExecution({ errors: [refusalError(refusal, maxLength)] });
  };
  return { onExecute: refuseMalformed, onSubscribe: refuseMalformed };
}

type Problem = 'nul' | 'surrogate' | 'length';
type Refusal = { argument: string; problem: Problem; detail: number; variable?: string };

/** What a document says about its strings: the first bad literal, and where each variable is used. */
type DocumentTexts = { refusal: Refusal | undefined; variableArguments: Map<string, string> };

/**
 * A NUL, or a surrogate that is not half of a pair: with the `u` flag a regular expression reads
 * the string by code points, so a well-formed pair is one code point and never matches.
 */
const NOT_TEXT = /[\0\p{Surrogate}]/u;

/** The problem of a string, if any, and a number that locates it (an index, or the length). */
function problemOf(value: string, maxLength: number): [Problem, number] | undefined {
  const index = value.search(NOT_TEXT);
  if (index !== -1) return [value.charCodeAt(index) === 0 ? 'nul' : 'surrogate', index];
  // Code points ≤ UTF-16 units: count them only when the units pass the bound.
  if (value.length > maxLength) {
    const codePoints = countCodePoints(value);
    if (codePoints > maxLength) return ['length', codePoints];
  }
  return undefined;
}

function refusalError({ argument, problem, detail, variable }: Refusal, maxLength: number): BadUserInputError {
  const what =
    problem === 'nul'
      ? `must not contain NUL (U+0000); found one at index ${detail}`
      : problem === 'surrogate'
        ? `must be well-formed Unicode; found a lone surrogate at index ${detail}`
        : `must be at most ${maxLength} characters long; got ${detail}`;
  const from = variable === undefined ? '' : ` (from variable $${variable})`;
  // A request error, like a variable that cannot be coerced: HTTP 400 under the GraphQL-over-HTTP
  // spec (200 for clients that accept only application/json), and nothing runs.
  return new BadUserInputError(`${argument}${from} ${what}.`, {
    argument,
    ...(variable === undefined ? {} : { variable }),
    ...(problem === 'length' ? { max: maxLength } : {}),
    http: { spec: true, status: 400 },
  });
}

/**
 * Walks every argument of the document once (of fields and directives, in operations and
 * fragments) and every variable's default value: the first bad string literal, and for each
 * variable the argument that takes it, to name it when its value is refused. Fragments are walked
 * where they are defined, never expanded. A walk of our own rather than graphql's `visit`, which
 * cost as much as parsing a `{ hello }` on a document's first sight.
 */
function readDocument(document: DocumentNode, maxLength: number): DocumentTexts {
  const texts: DocumentTexts = { refusal: undefined, variableArguments: new Map() };
  const readValue = (node: ValueNode, path: string): void => {
    if (node.kind === Kind.STRING) {
      const problem = texts.refusal ? undefined : problemOf(node.value, maxLength);
      if (problem) texts.refusal = { argument: path, problem: problem[0], detail: problem[1] };
    } else if (node.kind === Kind.LIST) {
      for (let index = 0; index < node.values.length; index += 1) readValue(node.values[index]!, `${path}[${index}]`);
    } else if (node.kind === Kind.OBJECT) {
      for (const field of node.fields) readValue(field.value, `${path}.${field.name.value}`);
    } else if (node.kind === Kind.VARIABLE && !texts.variableArguments.has(node.name.value)) {
      texts.variableArguments.set(node.name.value, path);
    }
  };
  const readArguments = (node: { readonly arguments?: readonly ArgumentNode[]; readonly directives?: readonly DirectiveNode[] }): void => {
    for (const argument of node.arguments ?? []) readValue(argument.value, argument.name.value);
    for (const directive of node.directives ?? []) readArguments(directive);
  };
  const readSelections = ({ selections }: SelectionSetNode): void => {
    for (const selection of selections) {
      readArguments(selection);
      if (selection.kind !== Kind.FRAGMENT_SPREAD && selection.selectionSet) readSelections(selection.selectionSet);
    }
  };
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION && definition.kind !== Kind.FRAGMENT_DEFINITION) continue;
    readArguments(definition);
    for (const variable of definition.kind === Kind.OPERATION_DEFINITION ? (definition.variableDefinitions ?? []) : []) {
      if (variable.defaultValue) readValue(variable.defaultValue, `$${variable.variable.name.value}`);
      readArguments(variable);
    }
    readSelections(definition.selectionSet);
  }
  return texts;
}

/**
 * Every string in the variables, without recursion: a JSON body may nest arrays thousands deep.
 * The common case (no bad string) builds no path; the path is found only for a refusal.
 */
function checkVariables(variables: ExecutionArgs['variableValues'], maxLength: number, variableArguments: Map<string, string>): Refusal | undefined {
  if (!variables) return undefined;
  for (const name in variables) {
    const value = variables[name];
    if (typeof value === 'string') {
      const problem = problemOf(value, maxLength);
      if (problem) return { argument: variableArguments.get(name) ?? `$${name}`, variable: name, problem: problem[0], detail: problem[1] };
    } else if (typeof value === 'object' && value !== null && hasBadString(value, maxLength)) {
      const [path, problem] = findBadString(value, maxLength)!;
      return { argument: `${variableArguments.get(name) ?? `$${name}`}${path}`, variable: name, problem: problem[0], detail: problem[1] };
    }
  }
  return undefined;
}

function hasBadString(root: object, maxLength: number): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') {
      if (problemOf(value, maxLength)) return true;
    } else if (Array.isArray(value)) {
      for (let index = 0; index < value.length; index += 1) stack.push(value[index]);
    } else if (typeof value === 'object' && value !== null) {
      for (const key in value) stack.push((value as Record<string, unknown>)[key]);
    }
  }
  return false;
}

/** The path (`[2].fromId`) of the first bad string in `root`, in document order, and its problem. */
function findBadString(root: object, maxLength: number): [string, [Problem, number]] | undefined {
  const stack: [unknown, string][] = [[root, '']];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      const problem = problemOf(value, maxLength);
      if (problem) return [path, problem];
    } else if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index -= 1) stack.push([value[index], `${path}[${index}]`]);
    } else if (typeof value === 'object' && value !== null) {
      for (const key of Object.keys(value).reverse()) stack.push([(value as Record<string, unknown>)[key], `${path}.${key}`]);
    }
  }
  return undefined;
}

function countCodePoints(value: string): number {
  let count = 0;
  for (let index = 0; index < value.length; index += 1) {
    count += 1;
    if ((value.charCodeAt(index) & 0xfc00) === 0xd800 && (value.charCodeAt(index + 1) & 0xfc00) === 0xdc00) index += 1;
  }
  return count;
}
