#!/usr/bin/env node
'use strict';
// Thin launcher so `npx vid2live` works from a clone after `npm install` (which builds dist/ via `prepare`).
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
if (!fs.existsSync(entry)) {
  console.error('vid2live: the CLI is not built yet. Run `npm install` (or `npm run build`) in the project folder first.');
  process.exit(2);
}
require(entry);
