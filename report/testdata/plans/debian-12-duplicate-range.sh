#!/bin/sh
# Fix plan from rootless-doctor. Review it, then run it: every step is idempotent,
# so running it again changes nothing. Steps marked "By hand" are comments only.
sudo sh -eux <<'EOF'
# 1. Remove the repeated lines of alice's subordinate ids, keeping each range once: 100000-165535 (line 1 of /etc/subuid)
#    fixes: idmap.subuid
#    why: each of alice's subordinate uid ranges must be listed once (idmap.subuid)
#    why: 100000-165535 is listed more than once in /etc/subuid: line 1 stays, so the ids the account's containers own keep their mapping, and the later copies go (engines pass every line, and the kernel rejects overlapping extents)
if [ "$(grep -cxF alice:100000:65536 /etc/subuid)" -gt 1 ]; then sed -i '/^alice:100000:65536$/{x;/./{x;d;};s/^/1/;x;}' /etc/subuid; fi
EOF
