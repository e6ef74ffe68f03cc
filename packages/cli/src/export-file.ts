import { open } from 'node:fs/promises';

/**
 * Writes an export to `path`, created owner-only (audit events name people) and never over an
 * existing file (`wx`), synced before it returns.
 */
export async function writeExportFile(path: string, text: string): Promise<void> {
  const file = await open(path, 'wx', 0o600);
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
}
