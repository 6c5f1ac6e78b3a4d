import { findHeredocs } from '../../../src/sources/heredoc';
import { memberKeys, removeMembers } from '../../../src/sources/json-members';

describe('findHeredocs', () => {
  it('finds each body with its target, delimiter form and exact offsets', () => {
    const script = [
      '#!/bin/bash',
      "cat > /etc/nginx/scripts/http.js <<'EOF'",
      'export default {};',
      'EOF',
      'cat <<-"END" | tee -a /etc/nginx/sites-available/vllm_gateway',
      '\tupstream a { server 1.2.3.4:80; }',
      '\tEND',
      'echo done # not <<EOF a heredoc',
      '',
    ].join('\n');
    const r = findHeredocs(script);
    if (!r.ok) throw new Error(r.error);
    expect(r.heredocs.map((h) => [h.delimiter, h.quoted, h.stripTabs, h.target, h.line])).toEqual([
      ['EOF', true, false, '/etc/nginx/scripts/http.js', 2],
      ['END', true, true, '/etc/nginx/sites-available/vllm_gateway', 5],
    ]);
    for (const h of r.heredocs) expect(script.slice(h.bodyStart, h.bodyEnd)).toBe(h.body);
    expect(r.heredocs[1].body).toBe('\tupstream a { server 1.2.3.4:80; }\n');
  });

  it('says which heredoc never ends', () => {
    const r = findHeredocs('cat > /x <<EOF\nabc\n');
    expect(r).toEqual({ ok: false, error: expect.stringContaining('line 1 (<<EOF) never ends') });
  });
});

describe('removeMembers', () => {
  const text = `{
    "$schema": "x",
    "lxc_configs": {
        "101": { "name": "gw", "dependencies": ["950"] },
        "950": {
            "name": "old"
        },
        "952": { "name": "q", "ports": ["6333:6333"] }
    }
}
`;
  it('removes a middle, a last and an only member and keeps every other byte', () => {
    const middle = removeMembers(text, ['lxc_configs'], ['950']);
    expect(middle).toEqual({
      ok: true,
      removed: ['950'],
      text: text.replace(/"950": \{\n {12}"name": "old"\n {8}\},\n {8}/, ''),
    });
    const last = removeMembers(text, ['lxc_configs'], ['952', '950']);
    if (!last.ok) throw new Error(last.error);
    expect(last.text).toBe(`{
    "$schema": "x",
    "lxc_configs": {
        "101": { "name": "gw", "dependencies": ["950"] }
    }
}
`);
    expect(JSON.parse(last.text)).toEqual({
      $schema: 'x',
      lxc_configs: { '101': { name: 'gw', dependencies: ['950'] } },
    });
    const all = removeMembers(text, ['lxc_configs'], ['101', '950', '952']);
    if (!all.ok) throw new Error(all.error);
    expect(JSON.parse(all.text)).toEqual({ $schema: 'x', lxc_configs: {} });
  });

  it('ignores keys that are not there and reports a missing object', () => {
    expect(removeMembers(text, ['lxc_configs'], ['777'])).toEqual({ ok: true, text, removed: [] });
    expect(removeMembers(text, ['nope'], ['1'])).toEqual({ ok: false, error: 'no object at $.nope' });
    expect(memberKeys(text, ['lxc_configs'])).toEqual(['101', '950', '952']);
  });
});
