/**
 * A metric label whose values come from clients (operation names): each distinct value is a time
 * series that Prometheus keeps, so only the first `max` distinct values are kept as they are, and
 * the rest are counted together under OTHER. Values come from documents that passed validation
 * (see graphql-observation.ts), so a junk name needs a valid operation to get in; an operator who
 * sees OTHER grow raises the bound or uses trusted documents.
 */
export class BoundedLabels {
  static readonly OTHER = '_other';
  readonly #known = new Set<string>();

  constructor(
    private readonly max: number,
    private readonly maxLength = 100,
  ) {}

  label(value: string): string {
    if (this.#known.has(value)) return value;
    if (this.#known.size >= this.max || value.length > this.maxLength) return BoundedLabels.OTHER;
    this.#known.add(value);
    return value;
  }
}
