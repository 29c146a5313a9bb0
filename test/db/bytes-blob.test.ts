// backend-independent: a Blob over bytes in memory, no database.
import { describe, expect, it } from 'vitest';
import { BytesBlob } from '../../src/db/bytes-blob.js';

const bytesOf = (text: string) => new TextEncoder().encode(text);

describe('BytesBlob', () => {
  it('reads as the bytes it was made of, through every Blob method', async () => {
    const blob = BytesBlob.of(bytesOf('hello, blob'), { type: 'application/x-tar', shared: true });
    expect(blob).toBeInstanceOf(Blob);
    expect(blob.size).toBe(11);
    expect(blob.type).toBe('application/x-tar');
    expect(new TextDecoder().decode(await blob.arrayBuffer())).toBe('hello, blob');
    expect(new TextDecoder().decode(await blob.bytes())).toBe('hello, blob');
    expect(await blob.text()).toBe('hello, blob');
    expect(await blob.slice(7).text()).toBe('blob');
    expect(await new Response(blob.stream()).text()).toBe('hello, blob');
  });

  it('hands a shared blob’s one buffer to every reader, and an unshared one’s copy to each', async () => {
    const shared = BytesBlob.of(bytesOf('abc'), { shared: true });
    expect(await shared.arrayBuffer()).toBe(await shared.arrayBuffer());
    const unshared = BytesBlob.of(bytesOf('abc'), { shared: false });
    const first = await unshared.arrayBuffer();
    new Uint8Array(first).set([120, 121, 122]);
    expect(await unshared.text()).toBe('abc');
    expect(new TextDecoder().decode(await unshared.arrayBuffer())).toBe('abc');
  });

  it('copies bytes that are a view into a larger buffer (a pooled Buffer), keeping only the view', async () => {
    const pooled = Buffer.from('xxhelloxx').subarray(2, 7);
    const blob = BytesBlob.of(pooled, { shared: true });
    expect(blob.size).toBe(5);
    expect((await blob.arrayBuffer()).byteLength).toBe(5);
    expect(await blob.text()).toBe('hello');
  });
});
