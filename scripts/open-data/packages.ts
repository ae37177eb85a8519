// Getting the source packages: Debian packages through `apt-get download` + `dpkg-deb -x`, npm
// packages through `npm pack` + tar. Nothing is installed on the system. Each package's version
// is pinned here and its licence checked against its own copyright file or registry entry, so a
// changed package fails loudly instead of slipping differently-licensed data into the set.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Vlm2VecError } from '../../src/errors.ts';

/** A package the data comes from, as recorded in LICENSES.md. */
export interface SourcePackage {
  kind: 'deb' | 'npm';
  name: string;
  version: string;
  /** The licence of what we take from it, in words (checked against `licenseCheck`). */
  license: string;
  /** Text the package's copyright file (deb) or `license` field (npm) must contain. */
  licenseCheck: string;
  /** What the data set takes from it. */
  uses: string;
  homepage: string;
}

/** The packages and versions the data set is built from (Debian 12 "bookworm" and npm). */
export const PACKAGES = {
  tuxpaint: {
    kind: 'deb', name: 'tuxpaint-stamps-default', version: '2022.06.04-1', license: 'GPL-2 (Tux Paint stamps, Bill Kendrick and contributors)',
    licenseCheck: 'License: GPL-2', uses: 'stamp pictures (PNG/SVG), their English one-line descriptions and their category folders',
    homepage: 'https://tuxpaint.org/',
  },
  fashion: {
    kind: 'deb', name: 'dataset-fashion-mnist', version: '0.0~git20200523.55506a9-1', license: 'MIT (Expat), © 2017 Zalando SE',
    licenseCheck: 'License: Expat', uses: 'the 28×28 grey images and labels of the train and test sets',
    homepage: 'https://github.com/zalandoresearch/fashion-mnist',
  },
  openclipart: {
    kind: 'deb', name: 'openclipart-svg', version: '1:0.18+dfsg-19', license: 'Public domain (Creative Commons Public Domain Dedication)',
    licenseCheck: 'Public Domain Dedication', uses: 'SVG drawings rendered to PNG, with their titles and keywords',
    homepage: 'http://www.openclipart.org',
  },
  rdoc: {
    kind: 'deb', name: 'r-doc-pdf', version: '4.2.2.20221110-2', license: 'GPL-2 (the R manuals)',
    licenseCheck: 'GPL-2', uses: 'pages of the R manuals (PDF) rendered to PNG, with their headings as queries',
    homepage: 'https://www.r-project.org/',
  },
  gnuplot: {
    kind: 'deb', name: 'gnuplot-doc', version: '5.4.4+dfsg1-2', license: 'gnuplot licence (free redistribution of the documentation)',
    licenseCheck: 'Permission to use, copy, and distribute this software and its', uses: 'pages of the gnuplot manual (PDF) with their headings',
    homepage: 'http://gnuplot.sourceforge.net/',
  },
  refcard: {
    kind: 'deb', name: 'debian-refcard', version: '12.0', license: 'GPL-3+ (Debian reference card)',
    licenseCheck: 'License: GPL-3+', uses: 'pages of the Debian reference card in 38 languages, with their section headings',
    homepage: 'https://www.debian.org/doc/user-manuals#refcard',
  },
  latexdoc: {
    kind: 'deb', name: 'texlive-latex-base-doc', version: '2022.20230122-3', license: 'LPPL 1.3c (the LaTeX Project\'s documentation of LaTeX base and l3kernel)',
    licenseCheck: 'LPPL: http://latex-project.org/lppl.html', uses: 'pages of the LaTeX base and expl3 (l3kernel) manuals (PDF) with their headings',
    homepage: 'https://www.latex-project.org/',
  },
  imageio: {
    kind: 'deb', name: 'python3-imageio', version: '2.4.1-5', license: 'BSD-2-Clause (imageio and its bundled sample media)',
    licenseCheck: 'License: BSD-2-Clause', uses: 'sample videos cockatoo.mp4, realshort.mp4, newtonscradle.gif',
    homepage: 'http://imageio.github.io/',
  },
  opencv: {
    kind: 'deb', name: 'opencv-doc', version: '4.6.0+dfsg-12', license: 'BSD-3-Clause (OpenCV samples)',
    licenseCheck: 'License: BSD-3-Clause', uses: 'sample videos tree.avi and vtest.avi (not Megamind*.avi: a film excerpt whose licence the package does not state)',
    homepage: 'https://opencv.org',
  },
  emoji: {
    kind: 'npm', name: 'emoji-datasource-google', version: '16.0.0', license: 'MIT (emoji-data); images: Noto Emoji, Apache-2.0',
    licenseCheck: 'MIT', uses: 'the 64 px Google (Noto) emoji images with their names and categories',
    homepage: 'https://github.com/iamcal/emoji-data',
  },
} as const satisfies Record<string, SourcePackage>;

export type PackageKey = keyof typeof PACKAGES;

function run(cmd: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Vlm2VecError('open-data', `\`${cmd} ${args.join(' ')}\` failed: ${(e.stderr ?? '').trim() || e.message}`, { cause: err });
  }
}

/**
 * Download and unpack one package into `cache/x/<name>/`, once (a `.done` marker), and return
 * that folder. The package's version must be the pinned one; its licence text must match.
 */
export function fetchPackage(p: SourcePackage, cache: string): string {
  const root = join(cache, 'x', `${p.name}_${p.version.replace(/[:~]/g, '_')}`);
  if (existsSync(join(root, '.done'))) return root;
  mkdirSync(join(cache, 'pkgs'), { recursive: true });
  rmSync(root, { recursive: true, force: true });
  const tmp = `${root}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  if (p.kind === 'deb') {
    const show = run('apt-cache', ['show', `${p.name}=${p.version}`]);
    if (!show.includes(`Version: ${p.version}`)) {
      throw new Vlm2VecError('open-data', `Debian package ${p.name} ${p.version} is not known to apt (run \`apt-get update\`; this script is pinned to Debian 12 "bookworm")`);
    }
    run('apt-get', ['download', `${p.name}=${p.version}`], join(cache, 'pkgs'));
    const deb = readdirSync(join(cache, 'pkgs')).find((f) => f.startsWith(`${p.name}_`) && f.endsWith('.deb'));
    if (!deb) throw new Vlm2VecError('open-data', `apt-get download ${p.name} left no .deb in ${join(cache, 'pkgs')}`);
    run('dpkg-deb', ['-x', join(cache, 'pkgs', deb), tmp]);
    const copyright = join(tmp, 'usr', 'share', 'doc', p.name, 'copyright');
    const text = existsSync(copyright) ? readFileSync(copyright, 'utf8') : '';
    if (!text.includes(p.licenseCheck)) {
      throw new Vlm2VecError('open-data', `${p.name} ${p.version}: its copyright file ${copyright} does not contain '${p.licenseCheck}'; check its licence before using it`);
    }
  } else {
    const license = run('npm', ['view', `${p.name}@${p.version}`, 'license']).trim();
    if (license !== p.licenseCheck) throw new Vlm2VecError('open-data', `npm ${p.name}@${p.version}: licence '${license}', expected '${p.licenseCheck}'`);
    const tgz = run('npm', ['pack', `${p.name}@${p.version}`, '--silent', '--pack-destination', join(cache, 'pkgs')]).trim().split('\n').at(-1)!;
    run('tar', ['xzf', join(cache, 'pkgs', tgz), '-C', tmp]);
  }
  renameSync(tmp, root);
  writeFileSync(join(root, '.done'), `${p.name} ${p.version}\n`);
  return root;
}

/** The licence file the data set ships for a package: its Debian copyright file or its LICENSE. */
export function licenseFile(p: SourcePackage, root: string): string {
  return p.kind === 'deb' ? join(root, 'usr', 'share', 'doc', p.name, 'copyright') : join(root, 'package', 'LICENSE');
}
