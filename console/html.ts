import { redactText } from '../runtime/redact.ts';

/**
 * HTML built only through the `html` tag: every interpolated value is escaped unless it is
 * already SafeHtml, so an address or a note that came from EFM, pgpool or an operator can never
 * become markup. `trusted` is the one way around it and is used for output we generated.
 */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function esc(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ENTITIES[c] ?? c);
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  // Registered secrets (the console token, PCP and Redis passwords) are masked before escaping,
  // so even an error message that quotes one cannot put it on a page.
  return esc(redactText(String(value)));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((v, i) => (out += render(v) + (strings[i + 1] ?? '')));
  return new SafeHtml(out);
}

/** Markup pcpflow produced itself (the Graphviz SVG, the inline script); never outside text. */
export function trusted(text: string): SafeHtml {
  return new SafeHtml(text);
}
