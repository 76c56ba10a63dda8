import type { TObject, TSchema } from '@sinclair/typebox';
import { listItemsOf } from './list';
import { rulesOf } from './rules';

export interface SettingReference {
  name: string;
  type: string;
  /** As the environment would spell it; undefined when the setting has none. */
  default: string | undefined;
  required: 'yes' | 'no' | 'by rule';
  description: string;
}

export interface ReferenceSection {
  /** Heading, e.g. the service name. */
  title: string;
  /** One paragraph under the heading (where the schema lives, what it configures). */
  intro: string;
  schema: TObject;
}

type Json = {
  type?: string;
  anyOf?: Json[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  description?: string;
};

function describeType(schema: Json): string {
  const items = listItemsOf(schema) as Json | undefined;
  if (items) return `comma list of ${describeType(items)}`;
  if (schema.anyOf?.every((b) => b.const !== undefined))
    return schema.anyOf.map((b) => `\`${String(b.const)}\``).join(' / ');
  if (schema.type === 'boolean') return '`true` / `false`';
  if (schema.type === 'integer' || schema.type === 'number') {
    const range =
      schema.minimum !== undefined && schema.maximum !== undefined
        ? ` ${schema.minimum}–${schema.maximum}`
        : schema.minimum !== undefined
          ? ` ≥ ${schema.minimum}`
          : schema.maximum !== undefined
            ? ` ≤ ${schema.maximum}`
            : '';
    return `${schema.type}${range}`;
  }
  if (schema.format === 'uri') return 'URL';
  if (schema.pattern) return `string matching \`${schema.pattern}\``;
  if (schema.minLength && schema.minLength > 1) return `string, ≥ ${schema.minLength} characters`;
  return 'string';
}

/** One setting as the reference shows it. */
export function describeSetting(name: string, schema: TObject): SettingReference {
  const property = schema.properties[name] as TSchema & Json;
  const demanded = rulesOf(schema).some((rule) => rule.requires.includes(name));
  const hasDefault = property.default !== undefined;
  return {
    name,
    type: describeType(property),
    default: hasDefault ? String(property.default) : undefined,
    required: (schema.required ?? []).includes(name) && !hasDefault ? 'yes' : demanded ? 'by rule' : 'no',
    description: property.description ?? '',
  };
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

/**
 * The settings reference in Markdown: per section every setting (type, default, required or not,
 * description) and the rules across settings that parseEnv enforces.
 */
export function renderReference(sections: readonly ReferenceSection[]): string {
  const out: string[] = [];
  for (const section of sections) {
    out.push(`## ${section.title}`, '', section.intro, '');
    out.push('| setting | type | default | required | description |', '| --- | --- | --- | --- | --- |');
    for (const name of Object.keys(section.schema.properties).sort()) {
      const s = describeSetting(name, section.schema);
      out.push(
        `| \`${s.name}\` | ${cell(s.type)} | ${s.default === undefined ? '—' : `\`${cell(s.default)}\``} | ${s.required} | ${cell(s.description)} |`,
      );
    }
    const rules = rulesOf(section.schema);
    if (rules.length) {
      out.push('', 'Rules across settings, checked at start-up:', '');
      for (const rule of rules) out.push(`- ${rule.text}`);
    }
    out.push('');
  }
  return out.join('\n');
}
