/** Named crash points (stub; the drills' module replaces it). */
export type CrashPointName = 'intent-written' | 'import-accepted' | 'confirmed-before-ledger' | 'dead-letter-acked-before-commit' | 'ledger-restore-mid';
export function crashPoint(_name: CrashPointName): void {}
