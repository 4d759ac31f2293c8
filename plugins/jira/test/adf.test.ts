import { markdownToAdf, parseInline } from '../src';

const text = (t: string, ...marks: object[]) =>
  marks.length ? { type: 'text', text: t, marks } : { type: 'text', text: t };
const p = (...content: object[]) => ({ type: 'paragraph', content });
const doc = (...content: object[]) => ({ type: 'doc', version: 1, content });
const strong = { type: 'strong' };
const em = { type: 'em' };
const code = { type: 'code' };
const link = (href: string) => ({ type: 'link', attrs: { href } });

describe('markdownToAdf', () => {
  it('turns plain text into paragraphs, keeping single line breaks as hard breaks', () => {
    expect(markdownToAdf('Hello\r\nworld\n\n\nSecond paragraph')).toEqual(
      doc(p(text('Hello'), { type: 'hardBreak' }, text('world')), p(text('Second paragraph'))),
    );
  });

  it('gives an empty document for empty text', () => {
    expect(markdownToAdf('')).toEqual(doc());
    expect(markdownToAdf(' \n\n ')).toEqual(doc());
  });

  it('converts bold, italic, code and links', () => {
    expect(markdownToAdf('**b** __b2__ *i* _i2_ `x = 1` [docs](https://example.com/a?b=1)')).toEqual(
      doc(
        p(
          text('b', strong),
          text(' '),
          text('b2', strong),
          text(' '),
          text('i', em),
          text(' '),
          text('i2', em),
          text(' '),
          text('x = 1', code),
          text(' '),
          text('docs', link('https://example.com/a?b=1')),
        ),
      ),
    );
  });

  it('nests marks, except that code only combines with links (an ADF rule)', () => {
    expect(parseInline('*a **b** c*')).toEqual([text('a ', em), text('b', em, strong), text(' c', em)]);
    expect(parseInline('**bold `code`**')).toEqual([text('bold ', strong), text('code', code)]);
    expect(parseInline('[see `api`](https://x.io)')).toEqual([
      text('see ', link('https://x.io')),
      text('api', link('https://x.io'), code),
    ]);
  });

  it('leaves markers that are not formatting as text', () => {
    const plain = [
      'snake_case_name and file_name.txt',
      'price * 2 and 3*4*5',
      'a ** b',
      'unclosed *star and `tick',
      'not a link [x](javascript:alert(1))',
      '#hashtag and C# code',
      '2*3 = 6',
    ];
    for (const line of plain) expect(parseInline(line)).toEqual([text(line)]);
    expect(parseInline('\\*not italic\\* and \\`x\\`')).toEqual([text('*not italic* and `x`')]);
  });

  it('converts bullet and numbered lists, with indented continuation lines', () => {
    expect(markdownToAdf('Items:\n- one\n* **two**\n  more of two\n+ three\n\n3. c\n4) d')).toEqual(
      doc(
        p(text('Items:')),
        {
          type: 'bulletList',
          content: [
            { type: 'listItem', content: [p(text('one'))] },
            {
              type: 'listItem',
              content: [p(text('two', strong), { type: 'hardBreak' }, text('more of two'))],
            },
            { type: 'listItem', content: [p(text('three'))] },
          ],
        },
        {
          type: 'orderedList',
          attrs: { order: 3 },
          content: [
            { type: 'listItem', content: [p(text('c'))] },
            { type: 'listItem', content: [p(text('d'))] },
          ],
        },
      ),
    );
    expect(markdownToAdf('1. a\n2. b')).toEqual(
      doc({
        type: 'orderedList',
        content: [
          { type: 'listItem', content: [p(text('a'))] },
          { type: 'listItem', content: [p(text('b'))] },
        ],
      }),
    );
  });

  it('converts headings and fenced code blocks (code is kept verbatim)', () => {
    expect(markdownToAdf('## Order *A-1*\n```json\n{ "a": "**1**" }\n\n```\n```\n```')).toEqual(
      doc(
        { type: 'heading', attrs: { level: 2 }, content: [text('Order '), text('A-1', em)] },
        { type: 'codeBlock', attrs: { language: 'json' }, content: [text('{ "a": "**1**" }\n')] },
        { type: 'codeBlock', content: [] },
      ),
    );
  });

  it('an unclosed code fence runs to the end', () => {
    expect(markdownToAdf('```\nline 1\nline 2')).toEqual(
      doc({ type: 'codeBlock', content: [text('line 1\nline 2')] }),
    );
  });

  it('never produces empty text nodes', () => {
    const walk = (node: any): void => {
      if (node.type === 'text') expect(node.text).not.toBe('');
      (node.content ?? []).forEach(walk);
    };
    walk(markdownToAdf('**** __ ** * _ ` `` [](https://x.io)\n- \n#  \n```'));
  });
});
