// The REST reference: reads /api/v1/openapi.json and lists every operation, its parameters, body and responses.
// Text only goes in through textContent, never as HTML.
(function () {
  'use strict';
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    return node;
  };

  let doc;
  const resolve = (schema) => {
    let s = schema || {};
    for (let i = 0; s.$ref && i < 20; i++)
      s =
        s.$ref
          .split('/')
          .slice(1)
          .reduce((o, k) => (o ? o[decodeURIComponent(k)] : undefined), doc) || {};
    return s;
  };
  const refName = (schema) => (schema && schema.$ref ? schema.$ref.split('/').pop() : null);

  function typeOf(schema) {
    const s = resolve(schema);
    const name = refName(schema);
    if (s.anyOf || s.oneOf) return (s.anyOf || s.oneOf).map(typeOf).join(' | ');
    let t = Array.isArray(s.type) ? s.type.join(' | ') : s.type || (s.properties ? 'object' : 'any');
    if (t === 'array') {
      const item = typeOf(s.items);
      t = item.includes(' | ') ? `(${item})[]` : `${item}[]`;
    }
    if (s.format) t += ` (${s.format})`;
    if (s.enum) t = s.enum.map((v) => JSON.stringify(v)).join(' | ');
    return name ? `${name}` : t;
  }

  function schemaTree(schema, depth) {
    const s = resolve(schema);
    const list = el('ul', { class: 'schema' });
    const target = s.type === 'array' ? resolve(s.items) : s;
    const variants = target.anyOf || target.oneOf;
    if (variants && depth < 6) {
      for (const v of variants) if (resolve(v).properties) list.append(el('li', {}, schemaTree(v, depth + 1)));
    }
    const required = new Set(target.required || []);
    for (const [name, prop] of Object.entries(target.properties || {})) {
      const p = resolve(prop);
      const item = el(
        'li',
        {},
        el('code', {}, name),
        ' ',
        el('span', { class: 'type' }, typeOf(prop)),
        required.has(name) ? el('span', { class: 'req' }, ' required') : null,
        p.description ? ` — ${p.description}` : null,
      );
      const inner = p.type === 'array' ? resolve(p.items) : p;
      if (depth < 6 && (inner.properties || (inner.anyOf || []).some((v) => resolve(v).properties)))
        item.append(schemaTree(prop, depth + 1));
      list.append(item);
    }
    return list;
  }

  function operation(method, path, op) {
    const body = el('div', {});
    if (op.description) body.append(el('p', {}, op.description));
    const params = op.parameters || [];
    if (params.length) {
      const rows = params.map((p) =>
        el(
          'tr',
          {},
          el('td', {}, el('code', {}, p.name)),
          el('td', {}, p.in),
          el('td', {}, p.required ? 'yes' : ''),
          el('td', { class: 'type' }, typeOf(p.schema)),
          el('td', {}, p.description || resolve(p.schema).description || ''),
        ),
      );
      body.append(
        el('h4', {}, 'Parameters'),
        el(
          'table',
          {},
          el('tr', {}, el('th', {}, 'name'), el('th', {}, 'in'), el('th', {}, 'required'), el('th', {}, 'type'), el('th', {}, '')),
          ...rows,
        ),
      );
    }
    const json = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
    if (json) body.append(el('h4', {}, 'Body (application/json)'), schemaTree(json.schema, 0));
    body.append(el('h4', {}, 'Responses'));
    for (const [status, res] of Object.entries(op.responses || {})) {
      const r = resolve(res);
      const content = r.content && r.content['application/json'];
      body.append(
        el(
          'p',
          {},
          el('strong', {}, status),
          ' ',
          r.description || '',
          content ? el('span', { class: 'type' }, ` — ${typeOf(content.schema)}`) : null,
        ),
      );
      if (content && Number(status) < 300) body.append(schemaTree(content.schema, 0));
    }
    return el(
      'details',
      { class: 'op', id: op.operationId || `${method}-${path}` },
      el(
        'summary',
        {},
        el('span', { class: `method ${method.toUpperCase()}` }, method.toUpperCase()),
        el('span', { class: 'path' }, path),
        el('span', { class: 'summary' }, op.summary || ''),
      ),
      body,
    );
  }

  function render() {
    const main = document.getElementById('operations');
    const nav = document.getElementById('tags');
    main.textContent = '';
    const byTag = new Map();
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const [method, op] of Object.entries(item)) {
        const tag = (op.tags && op.tags[0]) || 'other';
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push(operation(method, path, op));
      }
    }
    for (const [tag, ops] of byTag) {
      const id = `tag-${tag.replace(/\W+/g, '-')}`;
      nav.append(el('a', { href: `#${id}` }, tag));
      main.append(el('h2', { id }, tag), ...ops);
    }
  }

  fetch('openapi.json', { headers: { accept: 'application/json' } })
    .then((res) => {
      if (!res.ok) throw new Error(`openapi.json answered ${res.status}`);
      return res.json();
    })
    .then((json) => {
      doc = json;
      render();
    })
    .catch((error) => {
      document.getElementById('operations').textContent = `Could not load the document: ${error.message}`;
    });
})();
