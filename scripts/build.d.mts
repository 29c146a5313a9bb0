// Types of build.mjs, for the TypeScript that imports it (the tests' global set-up).
export const BUNDLE: string;
export const LIBRARY: string;
export function bundleIsStale(): boolean;
export function buildBundle(): Promise<void>;
export function buildTypes(options?: { check?: boolean }): Promise<void>;
