/**
 * Graphviz output is ours, but its prolog, doctype and comments are dropped before it is
 * inlined: they are useless in HTML and the doctype names an external DTD URL.
 */
export function inlineSvg(svg: string): string {
  return svg
    .replace(/<\?xml[^>]*>\s*/g, '')
    .replace(/<!DOCTYPE[^>]*>\s*/gi, '')
    .replace(/<!--[\s\S]*?-->\s*/g, '')
    .replace(/<script[\s\S]*?<\/script>/gi, '')
    .trim();
}
