import t from 'tap';
import { findUser, formatEntry, parseShadow, serializeShadow, withEntry, daysSinceEpoch, isExpired } from '../../src/rescue/shadow.js';

const TEXT = 'root:$6$x$y:19000:0:99999:7:::\n# a comment someone left\n\nbin:*:19000:0:99999:7:::\nodd:x:1:2:3:4:5:6:7';

t.test('parse and serialise keep every byte, including comments and a missing final newline', async (t) => {
  t.equal(serializeShadow(parseShadow(TEXT)), TEXT);
  t.equal(serializeShadow(parseShadow(TEXT + '\n')), TEXT + '\n');
  t.equal(serializeShadow(parseShadow('')), '');
});

t.test('editing one entry changes only that line', async (t) => {
  const f = parseShadow(TEXT + '\n');
  const hit = findUser(f, 'bin', '/etc/shadow')!;
  const out = serializeShadow(withEntry(f, hit.index, { ...hit.entry, lastchg: '20000' }));
  t.equal(out, TEXT.replace('bin:*:19000', 'bin:*:20000') + '\n');
  t.equal(formatEntry(hit.entry), 'bin:*:19000:0:99999:7:::');
});

t.test('a line with the wrong number of fields is a clear error naming the line', async (t) => {
  const f = parseShadow('root:x:1:2\n');
  t.throws(() => findUser(f, 'root', '/etc/shadow'), { message: /\/etc\/shadow: line 1 \(user "root"\) has 4 fields, a shadow entry has 9/ });
});

t.test('a user on two lines is ambiguous and refused', async (t) => {
  t.throws(() => findUser(parseShadow('a:x:1:0:9:7:::\na:y:1:0:9:7:::\n'), 'a', 'S'), /appears on 2 lines/);
  t.equal(findUser(parseShadow('a:x:1:0:9:7:::\n'), 'b', 'S'), undefined);
});

t.test('days since the epoch and expiry', async (t) => {
  t.equal(daysSinceEpoch(new Date('1970-01-02T12:00:00Z')), 1);
  const e = { name: 'a', password: 'x', lastchg: '', min: '', max: '', warn: '', inactive: '', expire: '5', reserved: '' };
  t.equal(isExpired(e, new Date('1970-01-10T00:00:00Z')), true);
  t.equal(isExpired({ ...e, expire: '' }), false);
});
