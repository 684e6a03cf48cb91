// A sortable, filterable table: one text filter over every column, sort by
// any column (click or Enter on its header), state kept across updates so a
// live refresh does not lose the user's place.  Plain DOM: 1 000 rows
// render in a few tens of milliseconds.

import { h, clear, uid } from './dom.js';

// columns: [{key, label, value(row) -> sortable, render(row) -> node|string,
//            numeric: bool, text(row) -> string for the filter}]
export function dataTable({ columns, caption, empty = 'Nothing to show.', filterLabel = 'Filter', initialSort }) {
  let rows = [];
  let sortKey = initialSort ? initialSort.key : null;
  let sortDir = initialSort ? initialSort.dir : 1;
  let filter = '';
  const fid = uid('filter');
  const countEl = h('span', { class: 'count', 'aria-live': 'polite' });
  const input = h('input', {
    id: fid, type: 'search', placeholder: 'name, state, host…', autocomplete: 'off',
    oninput: () => { filter = input.value.trim().toLowerCase(); render(); },
  });
  const thead = h('thead');
  const tbody = h('tbody');
  const table = h('table', { class: 'data' }, caption ? h('caption', null, caption) : null, thead, tbody);
  const el = h('div', { class: 'table-block' },
    h('div', { class: 'table-tools' }, h('label', { for: fid }, filterLabel), input, countEl),
    h('div', { class: 'table-wrap' }, table));

  function header() {
    clear(thead);
    const tr = h('tr');
    for (const c of columns) {
      const sorted = sortKey === c.key;
      const th = h('th', {
        scope: 'col', class: c.numeric ? 'num' : null,
        'aria-sort': sorted ? (sortDir > 0 ? 'ascending' : 'descending') : 'none',
      });
      if (c.value) {
        th.appendChild(h('button', {
          type: 'button', class: 'sort',
          onclick: () => {
            if (sortKey === c.key) sortDir = -sortDir;
            else { sortKey = c.key; sortDir = 1; }
            render();
          },
        }, c.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' },
          sorted ? (sortDir > 0 ? ' ▲' : ' ▼') : '')));
      } else {
        th.textContent = c.label;
      }
      tr.appendChild(th);
    }
    thead.appendChild(tr);
  }

  function compare(a, b) {
    if (a === b) return 0;
    if (a === null || a === undefined) return 1; // unknowns last, either way
    if (b === null || b === undefined) return -1;
    if (typeof a === 'number' && typeof b === 'number') return (a - b) * sortDir;
    return String(a).localeCompare(String(b), undefined, { numeric: true }) * sortDir;
  }

  function render() {
    header();
    let shown = rows;
    if (filter) shown = shown.filter((r) => r._text.includes(filter));
    if (sortKey) {
      const col = columns.find((c) => c.key === sortKey);
      const key = (r) => col.value(r);
      shown = shown.map((r) => [key(r), r]).sort((x, y) => compare(x[0], y[0])).map((x) => x[1]);
    }
    const frag = document.createDocumentFragment();
    for (const r of shown) {
      const tr = document.createElement('tr');
      for (const c of columns) {
        const td = document.createElement('td');
        if (c.numeric) td.className = 'num';
        const v = c.render ? c.render(r) : r[c.key];
        if (v instanceof Node) td.appendChild(v);
        else td.textContent = v === null || v === undefined ? '–' : String(v);
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    clear(tbody);
    if (!shown.length) {
      tbody.appendChild(h('tr', null, h('td', { colspan: columns.length, class: 'empty' },
        rows.length ? 'No row matches the filter.' : empty)));
    }
    tbody.appendChild(frag);
    countEl.textContent = filter ? `${shown.length} of ${rows.length}` : `${rows.length}`;
  }

  function update(newRows) {
    rows = newRows.map((r) => {
      const text = columns.map((c) => (c.text ? c.text(r) : c.value ? c.value(r) : r[c.key]))
        .filter((v) => v !== null && v !== undefined).join(' ').toLowerCase();
      return Object.assign(Object.create(null), r, { _text: text });
    });
    render();
  }

  return { el, update };
}
