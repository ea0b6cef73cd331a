// Shared by test/check: an in-memory file system whose reads are recorded (checking must read
// nothing else).
export function vfs(files: Record<string, string>) {
  const reads: string[] = [];
  return {
    reads,
    readFile: (p: string) => {
      reads.push(p);
      const t = files[p];
      if (t === undefined) throw new Error(`ENOENT ${p}`);
      return t;
    },
  };
}
