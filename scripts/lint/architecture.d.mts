// Types of the ESLint rule (plain JavaScript, so eslint.config.js loads it without a compiler).
import type { Rule } from 'eslint';

export const ALLOWED: Record<string, string[]>;
export function partOf(rel: string): string | undefined;
declare const rule: Rule.RuleModule;
export default rule;
