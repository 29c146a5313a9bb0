// Bytes already in memory, handed to PGlite where it takes a Blob (loadDataDir, fsBundle). PGlite reads such a Blob
// whole with `arrayBuffer()`, which Node 20 serves through a stream and a concatenation: 250 ms for the 41 MB template,
// most of an embedded database's start, on every start. Here `arrayBuffer()` hands back the bytes themselves.
export class BytesBlob extends Blob {
  /**
   * `shared`: every `arrayBuffer()` returns the same buffer, for a reader that only reads it (PGlite's untar copies
   * each file out of a loadDataDir tarball). Otherwise each call returns a copy (PGlite's file packager keeps views of
   * an fsBundle's buffer as the files of one engine, which may write them).
   */
  private readonly shared: boolean;

  constructor(
    private readonly contents: ArrayBuffer,
    { type = '', shared }: { type?: string; shared: boolean },
  ) {
    super([], { type });
    this.shared = shared;
  }

  /** Bytes read from a file (a Buffer, whose memory may be a view into a larger pool), as a buffer of their own. */
  static of(bytes: Uint8Array, options: { type?: string; shared: boolean }): BytesBlob {
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
    // new Uint8Array(view) copies; a Buffer's own slice() would be another view into the pool.
    return new BytesBlob(own ? (bytes.buffer as ArrayBuffer) : new Uint8Array(bytes).buffer, options);
  }

  override get size(): number {
    return this.contents.byteLength;
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.resolve(this.shared ? this.contents : this.contents.slice(0));
  }

  override async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await this.arrayBuffer());
  }

  // The rest of Blob's interface, through an ordinary Blob of the same bytes (nothing here uses them).
  override text(): Promise<string> {
    return this.asBlob().text();
  }

  override stream(): ReturnType<Blob['stream']> {
    return this.asBlob().stream();
  }

  override slice(start?: number, end?: number, contentType?: string): Blob {
    return this.asBlob().slice(start, end, contentType);
  }

  private asBlob(): Blob {
    return new Blob([this.contents], { type: this.type });
  }
}
