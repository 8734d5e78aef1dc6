#!/bin/sh
# loyaltyd.conf(5) from `loyaltyd --help-config` (the key tables themselves),
# so the manual cannot drift from the keys the daemon knows.
#   deploy/man-conf.sh build/loyaltyd > loyaltyd.conf.5
set -eu
bin="$1"
version="$("$bin" --version | sed 's/^loyaltyd //')"
cat <<HEAD
.TH LOYALTYD.CONF 5 "December 2026" "loyaltyd $version" "File Formats"
.SH NAME
loyaltyd.conf \- configuration of loyaltyd(8)
.SH DESCRIPTION
One
.I "key = value"
per line. A line starting with
.B #
is a comment; a
.B #
after an unquoted value is refused, so that a comment never becomes part of a
value. A value may be quoted,
.B \(dq...\(dq
(with
.B \e\(dq
and
.BR \e\e )
or
.B \(aq...\(aq
(as written), to hold a
.B #
or outer spaces. Refused at the start, with the line number: an unknown key, a
value out of bounds, a key set twice, an empty topic,
.BR group.id ,
.B redis.host
or
.BR redis.prefix ,
and two of the seven topics being one.
.B "loyaltyd \-t \-c"
.I FILE
checks a file.
.PP
In an unquoted or double-quoted value,
.BI \${ NAME }
is the value of the environment variable
.IR NAME ,
.BI \${ NAME :\- WORD }
is
.I WORD
when
.I NAME
is unset or empty, and
.B \$\$
is one
.BR $ ;
any other
.B \$
stands for itself. A variable that is unset or empty without a default stops
the start with the line number. Single-quoted values are not expanded.
.PP
Keys starting with
.B kafka.
go to librdkafka for both the consumer and the producer,
.B kafka.consumer.
and
.B kafka.producer.
to one of them (see librdkafka's CONFIGURATION.md).
.B model.
keys are the loyalty model's tunables. Secrets are never written here: the
Redis password comes from
.B redis.password_file
or the systemd credential
.BR redis\-password ;
any librdkafka property
.I NAME
can be read from a file with
.BI kafka. NAME _file
.RI "= " PATH
(the file's first line, trimmed), for example
.BR kafka.sasl.password_file ,
and
.B kafka.sasl.password
from the credential
.B kafka\-sasl\-password
when the file sets none.
.SH KEYS
Every key with its default, as printed by
.BR "loyaltyd \-\-help\-config" .
HEAD
"$bin" --help-config | awk '
    function esc(s) {
        gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s)
        if (s ~ /^[.\047]/) s = "\\&" s  # a leading . or \047 would be a request
        return s
    }
    /^# / { help = help (help ? " " : "") substr($0, 3); next }
    /^[a-z]/ {
        i = index($0, " = ")
        if (i == 0) next
        key = substr($0, 1, i - 1); def = substr($0, i + 3)
        print ".TP"
        print ".B " esc(key)
        if (help != "") print esc(help)
        print ".br"
        print "Default: " (def == "" ? "(empty)" : "\\fB" esc(def) "\\fR")
        help = ""
    }'
cat <<TAIL
.SH FILES
.I /etc/loyaltyd/loyaltyd.conf
.SH SEE ALSO
.BR loyaltyd (8),
.BR loyaltyctl (1)
TAIL
