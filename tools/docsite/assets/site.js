// The offline site's small conveniences (tools/docsite): menus on small screens, search (Pagefind's own UI), copy
// buttons on code, heading anchors, and the current section highlighted in the table of contents.
(() => {
  'use strict';
  const body = document.body;

  // ---- menus: the sidebar (pages), the table of contents and the search panel open over the page on small screens
  function toggler(button, cls, onOpen) {
    if (!button) return () => {};
    const set = open => {
      body.classList.toggle(cls, open);
      button.setAttribute('aria-expanded', String(open));
      if (open && onOpen) onOpen();
    };
    button.addEventListener('click', e => { e.stopPropagation(); set(!body.classList.contains(cls)); });
    return set;
  }
  const setSidebar = toggler(document.querySelector('.menu-toggle'), 'sidebar-open');
  const setToc = toggler(document.querySelector('.toc-toggle'), 'toc-open');
  const panel = document.getElementById('search-panel');
  let searchReady = false;
  const setSearch = toggler(document.querySelector('.search-toggle'), 'search-open', () => {
    panel.hidden = false;
    if (!searchReady && window.PagefindUI) {
      new window.PagefindUI({element: '#search', showSubResults: true, showImages: false, resetStyles: false,
                             autofocus: true});
      searchReady = true;
    }
    const input = panel.querySelector('input');
    if (input) input.focus();
  });
  const closeAll = () => {
    setSidebar(false); setToc(false);
    if (panel && body.classList.contains('search-open')) { setSearch(false); panel.hidden = true; }
  };
  document.addEventListener('keydown', e => {
    if (e.key === 'Escape') closeAll();
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test((e.target || {}).tagName || '');
    if (e.key === '/' && panel && !typing) { e.preventDefault(); setSearch(true); }
  });
  document.addEventListener('click', e => {
    const inside = e.target.closest('.sidebar, .toc, .search-panel');
    if (!inside || e.target.closest('.sidebar a, .toc a')) closeAll();
  });

  // ---- copy buttons on code blocks (`code-copy: true` in _quarto.yml)
  async function copy(text) {
    try { await navigator.clipboard.writeText(text); return true; } catch (err) {
      const t = document.createElement('textarea');
      t.value = text; t.setAttribute('readonly', ''); t.style.position = 'fixed'; t.style.opacity = '0';
      document.body.appendChild(t); t.select();
      const ok = document.execCommand('copy'); t.remove(); return ok;
    }
  }
  if (body.hasAttribute('data-code-copy')) {
    document.querySelectorAll('main div.sourceCode').forEach(block => {
      const code = block.querySelector('pre');
      if (!code) return;
      const b = document.createElement('button');
      b.type = 'button'; b.className = 'copy-button'; b.textContent = 'Copy';
      b.setAttribute('aria-label', 'Copy the code');
      b.addEventListener('click', async () => {
        const ok = await copy(code.innerText.replace(/\n$/, ''));
        b.textContent = ok ? 'Copied' : 'Press Ctrl-C'; b.classList.toggle('copied', ok);
        setTimeout(() => { b.textContent = 'Copy'; b.classList.remove('copied'); }, 1500);
      });
      block.appendChild(b);
    });
  }

  // ---- heading anchors: a "#" link after every section heading (its text comes from CSS, so headings keep theirs)
  document.querySelectorAll('main h2[id], main h3[id], main h4[id]').forEach(h => {
    const a = document.createElement('a');
    a.className = 'anchor'; a.href = '#' + h.id;
    a.setAttribute('aria-label', 'Link to this section: ' + h.textContent.trim());
    h.appendChild(a);
  });

  // ---- a plot opens at full size when tapped or clicked (on a phone it is drawn smaller than its labels need)
  document.querySelectorAll('main .cell-output-display img').forEach(img => {
    if (img.closest('a')) return;
    const a = document.createElement('a');
    a.href = img.getAttribute('src'); a.className = 'plot-link';
    a.setAttribute('aria-label', 'Open the plot at full size');
    img.replaceWith(a); a.appendChild(img);
  });

  // ---- scroll spy: the table of contents marks the section being read
  const links = new Map([...document.querySelectorAll('.toc a[href^="#"]')]
    .map(a => [decodeURIComponent(a.getAttribute('href').slice(1)), a]));
  const heads = [...links.keys()].map(id => document.getElementById(id)).filter(Boolean);
  let current = null, queued = false;
  function spy() {
    queued = false;
    const top = (document.querySelector('.navbar') || {offsetHeight: 0}).offsetHeight + 16;
    let best = heads[0];
    for (const h of heads) { if (h.getBoundingClientRect().top - top <= 1) best = h; else break; }
    // at the very bottom of the page the last sections cannot scroll up to the top: the last one is current
    if (window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 2 && heads.length) {
      best = heads[heads.length - 1];
    }
    const a = best && links.get(best.id);
    if (a === current) return;
    if (current) { current.classList.remove('active'); current.removeAttribute('aria-current'); }
    current = a || null;
    if (current) { current.classList.add('active'); current.setAttribute('aria-current', 'location'); }
  }
  if (heads.length) {
    window.addEventListener('scroll', () => { if (!queued) { queued = true; requestAnimationFrame(spy); } },
                            {passive: true});
    window.addEventListener('hashchange', spy);
    spy();
  }
})();
