// Bundle file names (the prototype's): aod_quick_<epoch_ns>.tar.zst. A bundle
// being written has a hidden temporary name, so no partial bundle ever carries
// the final one; leftovers of a crash are recognised by it.
export const BUNDLE_RE = /^aod_quick_(\d+)\.tar\.zst$/;
export const TEMP_RE = /^\.aod_quick_\d+\.tar\.zst\.\d+\.tmp$/;

export const bundleName = (ns: bigint) => `aod_quick_${ns}.tar.zst`;
export const tempName = (ns: bigint) => `.aod_quick_${ns}.tar.zst.${process.pid}.tmp`;
