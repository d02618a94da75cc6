import { GraphQLError, Lexer, parse, Source, TokenKind, type ParseOptions, type Token } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { LimitsConfig } from '../../config.js';
import { QueryTooComplexError } from '../errors.js';

const TOO_MANY = /^Syntax Error: Document contains more (?:that|than) \d+ (tokens|comments)\. Parsing aborted\.$/;
const OPENING = new Set<string>([TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L]);
const CLOSING = new Set<string>([TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R]);

/**
 * The limits checked while a document is parsed, before it is fully built:
 *
 * - tokens (MAX_TOKENS): graphql-js's parser counts them itself (`maxLexicalTokens`). Comments are
 *   not tokens to it, but it lexes and links each one: 450,000 lines of `#` took 0.3 to 0.5 s to
 *   parse, so comments are bounded by the same number (`maxComments`).
 * - nesting (MAX_NESTING): the parser recurses once per level of `{`, `[` and `(`, and so do the
 *   validation rules and the walks after it; about 2,000 levels, well within the token limit,
 *   overflowed the stack (an internal error, 500). Counted by the lexer as it hands out each token,
 *   so the parse stops at the first level too deep. The depth limit (MAX_DEPTH) cannot do this: it
 *   runs on the parsed document, and introspection is exempt from it.
 *
 * graphql-js's own errors are replaced with a QUERY_TOO_COMPLEX that names the limit. This replaces
 * graphql-armor's maxTokens plugin, which counted tokens through a Proxy around the lexer: three to
 * five times slower (2,000 fields, 20,000 tokens: 9.5 against 2.3 ms), on every document the parse
 * cache does not hold.
 */
export function useParseLimits({ maxTokens, maxNesting }: Pick<LimitsConfig, 'maxTokens' | 'maxNesting'>): Plugin {
  const parseWithLimits = (source: string | Source, options?: ParseOptions) => {
    const lexer = new NestingLexer(typeof source === 'string' ? new Source(source) : source, maxNesting);
    try {
      return parse(source, { ...options, lexer, maxLexicalTokens: maxTokens, maxComments: maxTokens });
    } catch (error) {
      const tooMany = error instanceof GraphQLError ? TOO_MANY.exec(error.message) : null;
      if (tooMany) throw new QueryTooComplexError(`${tooMany[1] === 'tokens' ? 'Token' : 'Comment'} limit of ${maxTokens} exceeded.`, 'maxTokens');
      throw error;
    }
  };
  return {
    onParse({ setParseFn }) {
      setParseFn(parseWithLimits);
    },
  };
}

/** graphql-js's lexer, refusing a document once its brackets nest deeper than `maxNesting`. */
class NestingLexer extends Lexer {
  private nesting = 0;
  constructor(
    source: Source,
    private readonly maxNesting: number,
  ) {
    super(source);
  }

  override advance(): Token {
    const token = super.advance();
    if (OPENING.has(token.kind)) {
      this.nesting += 1;
      if (this.nesting > this.maxNesting) throw new QueryTooComplexError(`Nesting limit of ${this.maxNesting} exceeded.`, 'maxNesting');
    } else if (CLOSING.has(token.kind)) {
      this.nesting -= 1;
    }
    return token;
  }
}
