import pino from 'pino';

/** A line that writes its own bytes (the access log's: access-log.ts), rather than a string to encode. */
export type EncodedLine = {
  /** At most how many bytes writeInto will write. */
  maxBytes(): number;
  /** Writes the line, newline included, at `at`; returns where it ends. */
  writeInto(buffer: Buffer, at: number): number;
};

/** A destination that takes encoded lines as well as strings. */
export type ByteSink = { append(line: EncodedLine): void };

/** Bytes gathered before they are handed to the destination, about three hundred request lines (one write, under a pipe's 64 KiB)... */
const BATCH_BYTES = 60_000;
/** ...in a buffer this large, so that a line seldom has to be handed over early. */
const SLAB_BYTES = 64 * 1024;
/** ...or after this long, whichever comes first: how long a line may wait. */
const FLUSH_EVERY_MS = 200;
/**
 * What may wait for a stdout that does not take it (a log shipper stalled): past this, lines are
 * dropped rather than kept, so a stuck reader cannot fill the server's memory.
 */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

type SonicBoom = ReturnType<typeof pino.destination>;

/**
 * The log's lines on their way to a file descriptor (stdout), written in batches of bytes by pino's
 * asynchronous destination, sonic-boom, which does the writing (partial writes, EAGAIN, the bound
 * on what is buffered). What waits is written before the process exits, whatever ends it.
 *
 * Why bytes, and batches: every request writes a line, and the way it went from a string to the
 * file was a fifth of a `{ hello }`'s CPU at first (bench/README.md, "The cost of observing").
 * sonic-boom appends each string it is given to one string and measures its bytes on each write;
 * lines gathered as strings and joined cost less, but each line then stays a tree of small strings
 * until the join reads it, across several garbage collections, from memory long out of the cache.
 * Here each line is written into a buffer as soon as it is made: the access log's lines by
 * themselves, byte by byte (`append`), pino's other lines encoded from their string (`write`).
 * What a batch holds goes to sonic-boom as a copy of its own, of its size, and the buffer takes the
 * next lines: what sonic-boom keeps (until written, or dropped once MAX_BUFFERED_BYTES wait) is its
 * own, counted at its size, and nothing here outlives it. Batches are large because each write is
 * a round trip to libuv's thread pool (and on Node 22, a copy by sonic-boom).
 */
export class LineBatches implements ByteSink {
  #slab: Buffer = Buffer.allocUnsafe(SLAB_BYTES);
  #used = 0;
  /** Bytes handed to sonic-boom, and bytes it has written (or dropped): flush() waits for them to meet. */
  #handed = 0;
  #written = 0;
  readonly #flushed: (() => void)[] = [];

  private constructor(private readonly sonic: SonicBoom) {
    sonic.on('write', (bytes: number) => this.#wrote(bytes));
    // Dropped (a stdout that does not take what it is given): as good as written, for flush().
    sonic.on('drop', (bytes: Buffer) => this.#wrote(bytes.length));
    setInterval(() => this.#handOver(), FLUSH_EVERY_MS).unref();
    exitFlushes.add(this);
  }

  /**
   * Lines for stdout, or for the file at `path` (tests). Writes are asynchronous: stdout may be a
   * pipe nobody reads (a stalled log shipper), where sonic-boom retries a write that would block
   * every 100 ms, forever; once the process exits, it gives up (see the exit flush). pino opens
   * stdout through `process.stdout`, which makes a pipe non-blocking: a write to a full one fails
   * with EAGAIN rather than holding a thread, or the exit, forever. `maxBufferedBytes` is for tests.
   */
  static to(path?: string, { maxBufferedBytes = MAX_BUFFERED_BYTES } = {}): LineBatches {
    // contentMode 'buffer': sonic-boom takes Buffers, and writes them as they are (its types say strings).
    const options = { sync: false, contentMode: 'buffer' as const, maxWrite: SLAB_BYTES, maxLength: maxBufferedBytes, retryEAGAIN: () => !exiting };
    return new LineBatches(pino.destination(path === undefined ? options : { ...options, dest: path }));
  }

  /** A line as pino writes it: a string, newline included. */
  write(line: string): void {
    // UTF-8 takes at most three bytes for each UTF-16 code unit.
    this.#makeRoom(line.length * 3);
    this.#used += this.#slab.write(line, this.#used);
    if (this.#used >= BATCH_BYTES) this.#handOver();
  }

  append(line: EncodedLine): void {
    this.#makeRoom(line.maxBytes());
    this.#used = line.writeInto(this.#slab, this.#used);
    if (this.#used >= BATCH_BYTES) this.#handOver();
  }

  /** What pino's `logger.flush(callback)` calls: the callback runs once every line so far is written. */
  flush(callback: () => void): void {
    this.#handOver();
    if (this.#written >= this.#handed) callback();
    else this.#flushed.push(callback);
  }

  flushSync(): void {
    this.#handOver();
    this.sonic.flushSync();
  }

  /**
   * At exit: what is left, written synchronously; if stdout does not take it, dropped, and the
   * destination closed, so that pino's own exit flush finds nothing to wait for either.
   */
  flushAtExit(): void {
    try {
      this.flushSync();
    } catch {
      this.sonic.destroy();
    }
  }

  #makeRoom(bytes: number): void {
    if (this.#used + bytes <= this.#slab.length) return;
    this.#handOver();
    if (bytes > this.#slab.length) this.#slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, bytes));
  }

  /** Hands a copy of the bytes gathered to sonic-boom; the buffer takes the next lines. */
  #handOver(): void {
    if (this.#used === 0) return;
    // A buffer of its own: a small one from Buffer.from would be a slice of node's shared 8 KiB pool,
    // and keep all of it while sonic-boom keeps the batch.
    const batch = Buffer.allocUnsafeSlow(this.#used);
    this.#slab.copy(batch, 0, 0, this.#used);
    this.#used = 0;
    // A buffer grown for one long line does not stay that large.
    if (this.#slab.length > SLAB_BYTES) this.#slab = Buffer.allocUnsafe(SLAB_BYTES);
    // Counted before the write: sonic-boom may drop the batch at once, inside write().
    this.#handed += batch.length;
    this.sonic.write(batch as unknown as string);
  }

  #wrote(bytes: number): void {
    this.#written += bytes;
    if (this.#written >= this.#handed) for (const callback of this.#flushed.splice(0)) callback();
  }
}

/**
 * Every LineBatches of the process (one per logger writing to stdout: one per process, but for
 * tests), written out synchronously when it exits: there is no event loop left then. Registered
 * before any destination, so it runs before pino's own exit flush.
 */
const exitFlushes = new Set<LineBatches>();
let exiting = false;
process.once('exit', () => {
  exiting = true;
  for (const batches of exitFlushes) batches.flushAtExit();
});
