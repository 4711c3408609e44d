#!/bin/sh
# scan-log.sh CONSOLE_LOG: print every line of a guest kernel log that
# reports a kernel problem; exit 1 if there is one.
pattern='WARNING:|BUG:|Oops|refcount_t:|kernel BUG|general protection|Kernel panic|Call Trace:|UBSAN:|KASAN:|possible circular locking|inconsistent lock state|possible recursive locking|lock held when returning|hung_task|blocked for more than|suspected memory leak|Unable to handle|stack-protector|list_add corruption|list_del corruption'
if grep -aE "$pattern" "$1"; then
	exit 1
fi
exit 0
