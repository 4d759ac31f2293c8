/**
 * Markdown-lite → Atlassian Document Format (ADF), the rich-text format of Jira Cloud's REST API v3.
 *
 * Blocks: paragraphs (blank-line separated; single line breaks are kept as hard breaks), bullet lists
 * (`-`, `*`, `+`, `•`), numbered lists (`1.` or `1)`), headings (`#`…`######`) and fenced code blocks
 * (```lang). Inline: **bold** or __bold__, *italic* or _italic_, `code` and [links](https://…). A backslash
 * escapes a marker; markers inside words (`snake_case`, `3*4*5`) stay text. Anything else is plain text.
 * Lists are one level deep; an indented line after a list item continues that item.
 */

export type AdfMark =
  { type: 'strong' } | { type: 'em' } | { type: 'code' } | { type: 'link'; attrs: { href: string } };
export type AdfText = { type: 'text'; text: string; marks?: AdfMark[] };
export type AdfInline = AdfText | { type: 'hardBreak' };
export type AdfParagraph = { type: 'paragraph'; content: AdfInline[] };
export type AdfListItem = { type: 'listItem'; content: AdfParagraph[] };
export type AdfBlock =
  | AdfParagraph
  | { type: 'heading'; attrs: { level: number }; content: AdfInline[] }
  | { type: 'bulletList'; content: AdfListItem[] }
  | { type: 'orderedList'; attrs?: { order: number }; content: AdfListItem[] }
  | { type: 'codeBlock'; attrs?: { language: string }; content: AdfText[] };
export type AdfDoc = { type: 'doc'; version: 1; content: AdfBlock[] };

const FENCE = /^\s*```\s*([\w+#.-]*)\s*$/;
const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s*[-*+•]\s+(.*)$/;
const ORDERED = /^\s*(\d{1,9})[.)]\s+(.*)$/;
const CONTINUATION = /^\s{2,}\S/;
const LINK = /^\[([^\]\n]+)\]\(((?:https?:\/\/|mailto:)[^\s()]+)\)/;
const ESCAPABLE = /[\\`*_[\]()#+\-.!•]/;
const WORD_CHAR = /[\p{L}\p{N}]/u;

const isBlank = (line: string) => line.trim() === '';
const startsBlock = (line: string) =>
  FENCE.test(line) || HEADING.test(line) || BULLET.test(line) || ORDERED.test(line);

function sameMarks(a: AdfMark[] | undefined, b: AdfMark[] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

function textNode(text: string, marks: AdfMark[]): AdfText {
  return marks.length ? { type: 'text', text, marks } : { type: 'text', text };
}

/** Position of the closing delimiter (after at least one character), or -1. Single `*`/`_` skip doubles. */
function findClose(text: string, contentStart: number, delim: string): number {
  const ch = delim[0]!;
  for (let j = contentStart + 1; j <= text.length - delim.length; j++) {
    if (text.slice(j, j + delim.length) !== delim) continue;
    if (text[j - 1] === '\\' || /\s/.test(text[j - 1]!)) continue;
    if (delim.length === 1 && (text[j - 1] === ch || text[j + 1] === ch)) continue;
    // Markers inside words (`snake_case`, `3*4*5`) are not emphasis.
    if (WORD_CHAR.test(text[j + delim.length] ?? '')) continue;
    return j;
  }
  return -1;
}

function canOpen(text: string, at: number, delim: string): boolean {
  const next = text[at + delim.length];
  if (next === undefined || /\s/.test(next)) return false;
  return !WORD_CHAR.test(text[at - 1] ?? '');
}

/** Inline markdown-lite to ADF text nodes (never empty, adjacent nodes with the same marks merged). */
export function parseInline(text: string, marks: AdfMark[] = []): AdfText[] {
  const out: AdfText[] = [];
  let plain = '';
  const flush = () => {
    if (plain) out.push(textNode(plain, marks));
    plain = '';
  };
  const has = (type: AdfMark['type']) => marks.some((m) => m.type === type);

  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length && ESCAPABLE.test(text[i + 1]!)) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === '`') {
      const end = text.indexOf('`', i + 1);
      if (end > i + 1) {
        flush();
        // ADF allows the code mark only together with a link.
        out.push(
          textNode(text.slice(i + 1, end), [...marks.filter((m) => m.type === 'link'), { type: 'code' }]),
        );
        i = end + 1;
        continue;
      }
    }
    if (ch === '[' && !has('link')) {
      const link = LINK.exec(text.slice(i));
      if (link) {
        flush();
        out.push(...parseInline(link[1]!, [...marks, { type: 'link', attrs: { href: link[2]! } }]));
        i += link[0].length;
        continue;
      }
    }
    if (ch === '*' || ch === '_') {
      const double = text[i + 1] === ch;
      const delim = double ? ch + ch : ch;
      const type = double ? 'strong' : 'em';
      if (!has(type) && canOpen(text, i, delim)) {
        const end = findClose(text, i + delim.length, delim);
        if (end !== -1) {
          flush();
          out.push(...parseInline(text.slice(i + delim.length, end), [...marks, { type }]));
          i = end + delim.length;
          continue;
        }
      }
    }
    plain += ch;
    i += 1;
  }
  flush();

  const merged: AdfText[] = [];
  for (const node of out) {
    const last = merged[merged.length - 1];
    if (last && sameMarks(last.marks, node.marks)) last.text += node.text;
    else merged.push(node);
  }
  return merged;
}

/** Lines of one paragraph (or list item), joined with hard breaks. */
function inlineLines(lines: string[]): AdfInline[] {
  const out: AdfInline[] = [];
  lines.forEach((line, index) => {
    if (index > 0) out.push({ type: 'hardBreak' });
    out.push(...parseInline(line.trim()));
  });
  return out;
}

function paragraph(lines: string[]): AdfParagraph {
  return { type: 'paragraph', content: inlineLines(lines) };
}

/** Converts markdown-lite (or plain text) to an ADF document. */
export function markdownToAdf(source: string): AdfDoc {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const content: AdfBlock[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (isBlank(line)) {
      i += 1;
      continue;
    }

    const fence = FENCE.exec(line);
    if (fence) {
      const body: string[] = [];
      i += 1;
      while (i < lines.length && !/^\s*```\s*$/.test(lines[i]!)) body.push(lines[i++]!);
      i += 1; // the closing fence (or the end)
      const text = body.join('\n');
      content.push({
        type: 'codeBlock',
        ...(fence[1] ? { attrs: { language: fence[1] } } : {}),
        content: text ? [{ type: 'text', text }] : [],
      });
      continue;
    }

    const heading = HEADING.exec(line);
    if (heading) {
      content.push({
        type: 'heading',
        attrs: { level: heading[1]!.length },
        content: parseInline(heading[2]!),
      });
      i += 1;
      continue;
    }

    const ordered = ORDERED.exec(line);
    if (BULLET.test(line) || ordered) {
      const marker = ordered ? ORDERED : BULLET;
      const items: string[][] = [];
      while (i < lines.length) {
        const item = marker.exec(lines[i]!);
        if (item) items.push([item[item.length - 1]!]);
        else if (items.length && CONTINUATION.test(lines[i]!) && !startsBlock(lines[i]!)) {
          items[items.length - 1]!.push(lines[i]!);
        } else break;
        i += 1;
      }
      const listItems = items.map((item): AdfListItem => ({ type: 'listItem', content: [paragraph(item)] }));
      const start = ordered ? Number(ordered[1]) : 1;
      content.push(
        ordered
          ? { type: 'orderedList', ...(start !== 1 ? { attrs: { order: start } } : {}), content: listItems }
          : { type: 'bulletList', content: listItems },
      );
      continue;
    }

    const block: string[] = [];
    while (i < lines.length && !isBlank(lines[i]!) && (block.length === 0 || !startsBlock(lines[i]!))) {
      block.push(lines[i++]!);
    }
    content.push(paragraph(block));
  }
  return { type: 'doc', version: 1, content };
}
