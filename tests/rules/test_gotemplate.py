"""Go text/template semantics of `adapter.rules.gotemplate`.

Every case pins behaviour of Go's `text/template` as written in its source and tests:
`src/text/template/exec_test.go` (case names in `execTests`, `cmpTests`, and the named
`Test...` functions), `parse/lex.go`/`parse/parse.go` (error messages), `doc.go`
(documented semantics) and `fmt` (printing). prometheus-adapter idioms come from its
`pkg/naming/metrics_query.go` (`queryTemplateArgs`, `Delims("<<", ">>")`,
template name "metrics-query") and `pkg/naming/resource_converter.go` (`schema.GroupResource`,
template name "resource-label") and from the default/deploy configs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from adapter.rules.gotemplate import (
    GoMap,
    GoStruct,
    Template,
    TemplateError,
    TemplateExecError,
    TemplateSyntaxError,
)


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    data: object
    want: str
    cite: str
    adapter_delims: bool = False  # << >> as prometheus-adapter uses


def render(case: Case) -> str:
    if case.adapter_delims:
        tmpl = Template.parse(case.text, name="metrics-query", left_delim="<<", right_delim=">>")
    else:
        tmpl = Template.parse(case.text, name=case.name)
    return tmpl.execute(case.data)


def query_args(
    series: str = "http_requests_total",
    matchers: str = 'namespace="shop",pod=~"web-1|web-2"',
    values: dict[str, str] | None = None,
    group_by: list[str] | None = None,
) -> GoStruct:
    """prometheus-adapter's `queryTemplateArgs` as `metricsQuery.Build` fills it."""
    group = ["pod"] if group_by is None else group_by
    return GoStruct(
        "naming.queryTemplateArgs",
        {
            "Series": series,
            "LabelMatchers": matchers,
            "LabelValuesByName": {"namespace": "shop", "pod": "web-1|web-2"}
            if values is None
            else values,
            "GroupBy": ",".join(group),
            "GroupBySlice": group,
        },
    )


def group_resource(group: str, resource: str) -> GoStruct:
    """`schema.GroupResource`, whose String() is `resource` or `resource.group`."""
    return GoStruct(
        "schema.GroupResource",
        {"Group": group, "Resource": resource},
        stringer=lambda: f"{resource}.{group}" if group else resource,
    )


ARGS = query_args()
# A struct in the spirit of exec_test.go's tVal.
T = GoStruct(
    "*template.T",
    {
        "True": True,
        "I": 17,
        "X": "x",
        "S": "xyz",
        "U": GoStruct("*template.U", {"V": "v"}),
        "FloatZero": 0.0,
        "SI": [3, 4, 5],
        "SIEmpty": [],
        "SB": [True, False],
        "MSI": GoMap({"one": 1, "two": 2, "three": 3}, elem_type="int"),
        "MSIone": GoMap({"one": 1}, elem_type="int"),
        "MSIEmpty": GoMap({}, elem_type="int"),
        "SMSI": [
            GoMap({"one": 1, "two": 2}, elem_type="int"),
            GoMap({"eleven": 11, "twelve": 12}, elem_type="int"),
        ],
        "Empty0": None,
        "Empty3": [7, 8],
        "unexported": 1,
    },
)

ADAPTER_CASES = [
    Case(
        "default metricsQuery",
        "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)",
        ARGS,
        'sum(rate(http_requests_total{namespace="shop",pod=~"web-1|web-2"}[2m])) by (pod)',
        "prometheus-adapter docs/config.md metricsQuery example; exec_test '.X'",
        adapter_delims=True,
    ),
    Case(
        "index LabelValuesByName",
        '<<index .LabelValuesByName "namespace">>',
        ARGS,
        "shop",
        "exec_test 'map[one]'",
        adapter_delims=True,
    ),
    Case(
        "index missing label gives the map's zero value",
        '[<<index .LabelValuesByName "job">>]',
        ARGS,
        "[]",
        "exec_test 'map[NO]': index of an absent key is the element's zero value",
        adapter_delims=True,
    ),
    Case(
        "field access on the typed map",
        "<<.LabelValuesByName.namespace>>",
        ARGS,
        "shop",
        "exec_test 'map .one'",
        adapter_delims=True,
    ),
    Case(
        "field access of an absent key prints <no value> even for map[string]string",
        "<<.LabelValuesByName.job>>",
        ARGS,
        "<no value>",
        "exec_test 'map .NO' and TestMissingMapKey (missingkey=default)",
        adapter_delims=True,
    ),
    Case(
        "range over labels except namespace",
        '<< range $k, $v := .LabelValuesByName >><< if ne $k "namespace" >><<$k>>="<<$v>>",'
        "<< end >><< end >>",
        query_args(values={"pod": "web-1|web-2", "namespace": "shop", "container": "app"}),
        'container="app",pod="web-1|web-2",',
        "doc.go: maps range in sorted key order; exec_test 'range $x $y MSIone'",
        adapter_delims=True,
    ),
    Case(
        "trim markers in a YAML block query",
        "sum by (<<.GroupBy>>) (\n  irate (\n    <<- .Series ->>\n  [4m])\n)\n",
        ARGS,
        "sum by (pod) (\n  irate (http_requests_total[4m])\n)\n",
        "doc.go 'Text and spaces': {{- trims preceding, -}} following white space",
        adapter_delims=True,
    ),
    Case(
        "container query with extra group-by",
        "sum by (<<.GroupBy>>) (rate(container_cpu_usage_seconds_total{<<.LabelMatchers>>,"
        'container!=""}[4m]))',
        query_args(group_by=["pod", "container"]),
        'sum by (pod,container) (rate(container_cpu_usage_seconds_total{namespace="shop",'
        'pod=~"web-1|web-2",container!=""}[4m]))',
        "prometheus-adapter resourceRules containerQuery; Build appends containerLabel",
        adapter_delims=True,
    ),
    Case(
        "GroupBySlice prints like fmt",
        "<<.GroupBySlice>>",
        ARGS,
        "[pod]",
        "exec_test 'dot slice': a slice prints as [a b]",
        adapter_delims=True,
    ),
    Case(
        "empty GroupBySlice of BuildExternal",
        "<<.GroupBySlice>>|<<.GroupBy>>|",
        query_args(group_by=[]),
        "[]||",
        "fmt prints an empty slice as []",
        adapter_delims=True,
    ),
    Case(
        "whole LabelValuesByName map prints sorted",
        "<<.LabelValuesByName>>",
        ARGS,
        "map[namespace:shop pod:web-1|web-2]",
        "exec_test 'dot map'; fmt sorts map keys",
        adapter_delims=True,
    ),
    Case(
        "printf in a query",
        '<<printf "%s_per_second" .Series>>{<<.LabelMatchers>>}',
        ARGS,
        'http_requests_total_per_second{namespace="shop",pod=~"web-1|web-2"}',
        "exec_test 'printf field'",
        adapter_delims=True,
    ),
    Case(
        "if on the namespace label",
        '<<if index .LabelValuesByName "namespace">>ns<<else>>cluster<<end>>',
        query_args(values={}),
        "cluster",
        "exec_test 'if emptystring': empty string is false",
        adapter_delims=True,
    ),
    Case(
        "comment in adapter delimiters",
        "<</* the series */>><<.Series>>",
        ARGS,
        "http_requests_total",
        "exec_test TestDelims: comments with custom delimiters",
        adapter_delims=True,
    ),
    Case(
        "resource template kube_group_resource",
        "kube_<<.Group>>_<<.Resource>>",
        group_resource("apps", "deployment"),
        "kube_apps_deployment",
        "prometheus-adapter resources.template; resource_converter makeLabelForResource",
        adapter_delims=True,
    ),
    Case(
        "resource template as regex for discovery",
        "kube_<<.Group>>_<<.Resource>>",
        group_resource("(?P<group>.+?)", "(?P<resource>.+?)"),
        "kube_(?P<group>.+?)_(?P<resource>.+?)",
        "prometheus-adapter lbl_res.go newLabelGroupResExtractor",
        adapter_delims=True,
    ),
    Case(
        "GroupResource prints through its String method",
        "<<.>> <<printf `%v|%s` . .>>",
        group_resource("apps", "deployments"),
        "deployments.apps deployments.apps|deployments.apps",
        "exec_test 'bug5' (Stringer); schema.GroupResource.String",
        adapter_delims=True,
    ),
]

EXEC_CASES = [
    # Text, constants and printing.
    Case("empty", "", None, "", "exec_test 'empty'"),
    Case("text", "some text", None, "some text", "exec_test 'text'"),
    Case("ideal int", "{{3}}", None, "3", "exec_test 'ideal int'"),
    Case("ideal float", "{{1.5}} {{1.0}}", None, "1.5 1", "exec_test 'ideal float'; %v of 1.0"),
    Case("ideal complex", "{{1.5i}}", None, "(0+1.5i)", "exec_test 'with 1.5i'"),
    Case("char constant", "{{'a'}} {{'\\n'}}", None, "97 10", "doc.go: character constants"),
    Case("raw string", "{{`a\\nb`}}", None, "a\\nb", 'doc.go example {{`"output"`}}'),
    Case("interpreted string", '{{"a\\tb\\u00e9"}}', None, "a\tbé", "strconv.Unquote escapes"),
    Case("bool", "{{true}} {{false}}", None, "true false", "exec_test 'dot bool'"),
    Case("dot int", "<{{.}}>", 13, "<13>", "exec_test 'dot int'"),
    Case("dot float", "<{{.}}>", 15.1, "<15.1>", "exec_test 'dot float'"),
    Case("dot string", "<{{.}}>", "hello", "<hello>", "exec_test 'dot string'"),
    Case("dot slice", "<{{.}}>", [-1, -2, -3], "<[-1 -2 -3]>", "exec_test 'dot slice'"),
    Case("dot map", "<{{.}}>", {"two": 22}, "<map[two:22]>", "exec_test 'dot map'"),
    Case(
        "dot struct",
        "<{{.}}>",
        GoStruct("T", {"a": 7, "b": "seven"}),
        "<{7 seven}>",
        "exec_test 'dot struct'",
    ),
    Case(
        "nested composite",
        "{{.}}",
        {"b": [1, None], "a": {"x": "y"}},
        "map[a:map[x:y] b:[1 <nil>]]",
        "fmt: nil inside a slice prints <nil>",
    ),
    Case(
        "float %v shortest",
        "{{.}}",
        [1e6, 0.5, 100000.0, 123456789.0, 1e-5, 0.0001, 1e21],
        "[1e+06 0.5 100000 1.23456789e+08 1e-05 0.0001 1e+21]",
        "strconv.FormatFloat 'g' -1: %e when exp < -4 || exp >= 6",
    ),
    Case(
        "numbers",
        "{{print 1234 12_34 0b101 0377 0o377 0x1_23 0X123ABC 123.4 +0x1.ep+2}}",
        None,
        "1234 1234 5 255 255 291 1194684 123.4 7.5",
        "exec_test 'decimal _', 'binary', 'octal0', 'hex _', 'HEX', 'hex float'",
    ),
    Case("nil value prints <no value>", "{{.Empty0}}", T, "<no value>", "exec_test 'empty nil'"),
    Case(
        "field on nil data",
        "{{.foo}} {{(.).foo}}",
        None,
        "<no value> <no value>",
        "exec_test 'field on interface', 'field on parenthesized interface'",
    ),
    Case(
        "map .one on plain dict",
        "{{.x}} {{.y}}",
        {"x": 99},
        "99 <no value>",
        "TestMissingMapKey (missingkey=default)",
    ),
    Case("lower-case map key", "{{.cause}}", {"cause": "neglect"}, "neglect", "exec_test 'bug9'"),
    # Fields and variables.
    Case(".X", "-{{.X}}-", T, "-x-", "exec_test '.X'"),
    Case(".U.V", "-{{.U.V}}-", T, "-v-", "exec_test '.U.V'"),
    Case("map .one", "{{.MSI.one}}", T, "1", "exec_test 'map .one'"),
    Case("$ int", "{{$}}", 123, "123", "exec_test '$ int'"),
    Case("$.I", "{{$.I}}", T, "17", "exec_test '$.I'"),
    Case("$.U.V", "{{$.U.V}}", T, "v", "exec_test '$.U.V'"),
    Case("declare in action", "{{$x := $.U.V}}{{$x}}", T, "v", "exec_test 'declare in action'"),
    Case(
        "simple assignment", "{{$x := 2}}{{$x = 3}}{{$x}}", T, "3", "exec_test 'simple assignment'"
    ),
    Case(
        "nested assignment",
        "{{$x := 2}}{{if true}}{{$x = 3}}{{end}}{{$x}}",
        T,
        "3",
        "exec_test 'nested assignment'",
    ),
    Case(
        "nested assignment changes the last declaration",
        "{{$x := 1}}{{if true}}{{$x := 2}}{{if true}}{{$x = 3}}{{end}}{{end}}{{$x}}",
        T,
        "1",
        "exec_test 'nested assignment changes the last declaration'",
    ),
    Case(
        "variable field chain",
        "{{with $x := $}}{{$x.U.V}}{{end}}",
        T,
        "v",
        "exec_test 'with $x struct.U.V'",
    ),
    Case("parens: $ in paren", "{{($).X}}", T, "x", "exec_test 'parens: $ in paren'"),
    Case(
        "parenthesized non-function with no args",
        "{{(1)}}",
        None,
        "1",
        "exec_test 'parenthesized non-function with no args'",
    ),
    Case(
        "chain on function result",
        "{{(index .SMSI 1).eleven}}",
        T,
        "11",
        "exec_test 'bug10' / 'parens: spaces and args'",
    ),
    # if / else if / with.
    Case("if true", "{{if true}}TRUE{{end}}", T, "TRUE", "exec_test 'if true'"),
    Case("if false", "{{if false}}TRUE{{else}}FALSE{{end}}", T, "FALSE", "exec_test 'if false'"),
    Case("if 1", "{{if 1}}NON-ZERO{{else}}ZERO{{end}}", T, "NON-ZERO", "exec_test 'if 1'"),
    Case("if 0", "{{if 0}}NON-ZERO{{else}}ZERO{{end}}", T, "ZERO", "exec_test 'if 0'"),
    Case("if 0.0", "{{if .FloatZero}}NON-ZERO{{else}}ZERO{{end}}", T, "ZERO", "exec_test 'if 0.0'"),
    Case(
        "if emptystring",
        "{{if ``}}NON-EMPTY{{else}}EMPTY{{end}}",
        T,
        "EMPTY",
        "exec_test 'if emptystring'",
    ),
    Case(
        "if emptyslice",
        "{{if .SIEmpty}}NON-EMPTY{{else}}EMPTY{{end}}",
        T,
        "EMPTY",
        "exec_test 'if emptyslice'",
    ),
    Case(
        "if emptymap",
        "{{if .MSIEmpty}}NON-EMPTY{{else}}EMPTY{{end}}",
        T,
        "EMPTY",
        "exec_test 'if emptymap'",
    ),
    Case(
        "if map", "{{if .MSI}}NON-EMPTY{{else}}EMPTY{{end}}", T, "NON-EMPTY", "exec_test 'if map'"
    ),
    Case("if struct", "{{if .U}}T{{end}}", T, "T", "exec.go isTrue: struct values are true"),
    Case("if nil", "{{if .Empty0}}non-nil{{else}}nil{{end}}", T, "nil", "exec_test 'bug4'"),
    Case(
        "if $x with $x int",
        "{{if $x := true}}{{with $x := .I}}{{$x}},{{end}}{{$x}}{{end}}",
        T,
        "17,true",
        "exec_test 'if $x with $x int'",
    ),
    Case(
        "if else chain",
        "{{if eq 1 3}}1{{else if eq 2 3}}2{{else if eq 3 3}}3{{end}}",
        T,
        "3",
        "exec_test 'if else chain'",
    ),
    Case("with 1", "{{with 1}}{{.}}{{else}}ZERO{{end}}", T, "1", "exec_test 'with 1'"),
    Case("with 0", "{{with 0}}{{.}}{{else}}ZERO{{end}}", T, "ZERO", "exec_test 'with 0'"),
    Case(
        "with map",
        "{{with .MSIone}}{{.}}{{else}}EMPTY{{end}}",
        T,
        "map[one:1]",
        "exec_test 'with map'",
    ),
    Case(
        "with else with chain",
        "{{with 0}}{{.}}{{else with false}}{{.}}{{else with `notempty`}}{{.}}{{end}}",
        T,
        "notempty",
        "exec_test 'with else with chain'",
    ),
    # range.
    Case("range []int", "{{range .SI}}-{{.}}-{{end}}", T, "-3--4--5-", "exec_test 'range []int'"),
    Case(
        "range empty else",
        "{{range .SIEmpty}}-{{.}}-{{else}}EMPTY{{end}}",
        T,
        "EMPTY",
        "exec_test 'range empty else'",
    ),
    Case(
        "range empty nil", "{{range .Empty0}}-{{.}}-{{end}}", T, "", "exec_test 'range empty nil'"
    ),
    Case(
        "range []int break else",
        "{{range .SI}}-{{.}}-{{break}}NOTREACHED{{else}}EMPTY{{end}}",
        T,
        "-3-",
        "exec_test 'range []int break else'",
    ),
    Case(
        "range []int continue else",
        "{{range .SI}}-{{.}}-{{continue}}NOTREACHED{{else}}EMPTY{{end}}",
        T,
        "-3--4--5-",
        "exec_test 'range []int continue else'",
    ),
    Case(
        "break inside if",
        "{{range .SI}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}",
        T,
        "3",
        "doc.go {{break}}: ends the innermost range",
    ),
    Case(
        "range map",
        "{{range .MSI}}-{{.}}-{{end}}",
        T,
        "-1--3--2-",
        "exec_test 'range map' (sorted keys one, three, two)",
    ),
    Case(
        "range $x $y SI",
        "{{range $x, $y := .SI}}<{{$x}}={{$y}}>{{end}}",
        T,
        "<0=3><1=4><2=5>",
        "exec_test 'range $x $y SI'",
    ),
    Case(
        "range $x MSIone",
        "{{range $x := .MSIone}}<{{$x}}>{{end}}",
        T,
        "<1>",
        "exec_test 'range $x MSIone': one variable is the element",
    ),
    Case(
        "range $x $y MSIone",
        "{{range $x, $y := .MSIone}}<{{$x}}={{$y}}>{{end}}",
        T,
        "<one=1>",
        "exec_test 'range $x $y MSIone'",
    ),
    Case(
        "issue60801",
        "{{$k := 0}}{{$v := 0}}{{range $k, $v = .SI}}{{$k}}={{$v}} {{end}}",
        T,
        "0=3 1=4 2=5 ",
        "exec_test 'issue60801': range assigns existing variables",
    ),
    Case(
        "range 5",
        "{{range $v := 5}}{{printf `%T%d` $v $v}}{{end}}",
        None,
        "int0int1int2int3int4",
        "exec_test 'range 5' (Go 1.24 range over int)",
    ),
    Case(
        "range int zero else",
        "{{range 0}}x{{else}}empty{{end}}",
        None,
        "empty",
        "exec_test 'range uintptr(0)'",
    ),
    Case(
        "range $ inside",
        "{{range .SI}}{{$.X}}{{end}}",
        T,
        "xxx",
        "doc.go: $ is the data passed to Execute",
    ),
    # Pipelines and functions.
    Case("pipeline", '{{"output" | printf "%q"}}', None, '"output"', "doc.go pipeline example"),
    Case(
        "longer chain",
        '{{"put" | printf "%s%s" "out" | printf "%q"}}',
        None,
        '"output"',
        "doc.go pipeline example",
    ),
    Case(
        "parens in pipeline",
        '{{printf "%q" (print "out" "put")}}',
        None,
        '"output"',
        "doc.go parenthesized argument example",
    ),
    Case("not", "{{not true}} {{not false}}", None, "false true", "exec_test 'not'"),
    Case(
        "and",
        "{{and false 0}} {{and 1 0}} {{and 0 true}} {{and 1 1}}",
        None,
        "false 0 0 1",
        "exec_test 'and'",
    ),
    Case(
        "or", "{{or 0 0}} {{or 1 0}} {{or 0 true}} {{or 1 1}}", None, "0 1 true 1", "exec_test 'or'"
    ),
    Case(
        "and/or pipes",
        "{{1 | and 1}} {{0 | and 1}} {{1 | or 0}} {{0 | or 0}}",
        None,
        "1 0 1 0",
        "exec_test 'and pipe-true' .. 'or pipe-false'",
    ),
    Case(
        "or short-circuit",
        "{{or 1 (index .SI 99)}}",
        T,
        "1",
        "exec_test 'or short-circuit' (Go 1.18: later arguments unevaluated)",
    ),
    Case("and short-circuit", "{{and 0 (index .SI 99)}}", T, "0", "exec_test 'and short-circuit'"),
    Case("and undef", "{{and 1 .Unknown}}", None, "<no value>", "exec_test 'and undef'"),
    Case(
        "or as if false",
        '{{or .SIEmpty "slice is empty"}}',
        T,
        "slice is empty",
        "exec_test 'or as if false'",
    ),
    Case(
        "len",
        "{{len .SI}} {{len .MSI}} {{len `héllo`}}",
        T,
        "3 3 6",
        "exec_test 'slice'/'map' under Len; len of a string counts bytes",
    ),
    Case(
        "index",
        "{{index .SI 1}} {{index .SMSI 1 `eleven`}} {{index `xyz` 1}}",
        T,
        "4 11 121",
        "exec_test 'slice[1]', 'double index'; indexing a string yields a byte",
    ),
    Case("index map[NO]", "{{index .MSI `XXX`}}", T, "0", "exec_test 'map[NO]'"),
    Case(
        "index interface map miss",
        '{{index . "y"}}',
        GoMap({"x": 1}, elem_type="interface {}"),
        "<no value>",
        "funcs.go index: reflect.Zero(interface{}) is nil, printed <no value>",
    ),
    Case(
        "slice",
        "{{slice .SI 1 2}} {{slice .SI 1}} {{slice .SI}} {{slice .S 1 2}}",
        T,
        "[4] [4 5] [3 4 5] y",
        "exec_test 'slice[1:2]', 'slice[1:]', 'slice[:]', 'string[1:2]'",
    ),
    Case(
        "print",
        "{{print 1 2 3}} {{print nil}} {{print 1 `a` 2}}",
        None,
        "1 2 3 <nil> 1a2",
        "exec_test 'print 123', 'print nil'; fmt.Sprint spacing",
    ),
    Case("println", "{{println 1 2 3}}", None, "1 2 3\n", "exec_test 'println'"),
    Case("printf int", '{{printf "%04x" 127}}', None, "007f", "exec_test 'printf int'"),
    Case("printf float", '{{printf "%g" 3.5}}', None, "3.5", "exec_test 'printf float'"),
    Case("printf complex", '{{printf "%g" 1+7i}}', None, "(1+7i)", "exec_test 'printf complex'"),
    Case(
        "printf lots",
        '{{printf "%d %s %g %s" 127 "hello" 7-3i .X}}',
        T,
        "127 hello (7-3i) x",
        "exec_test 'printf lots'",
    ),
    Case(
        "printf widths",
        '{{printf "%5d|%-5s|%05.1f|%+d|%x|%X|%q|%t|%%|%8.3e" 42 "ab" 3.14159 '
        '7 255 "hi" "a\\"b" true 1234.5}}',
        None,
        '   42|ab   |003.1|+7|ff|6869|"a\\"b"|true|%|1.234e+03',
        "fmt verbs and flags",
    ),
    Case(
        "printf %v of composites",
        '{{printf "%v %d %s" .SI .SI .GroupBySlice}}',
        GoStruct("T", {"SI": [1, 2], "GroupBySlice": ["pod"]}),
        "[1 2] [1 2] [pod]",
        "fmt applies the verb to each element",
    ),
    Case(
        "printf complaints",
        '{{printf "%d|%s|%d" "a" 1}}',
        None,
        "%!d(string=a)|%!s(int=1)|%!d(MISSING)",
        "fmt: bad verb and missing operand",
    ),
    Case(
        "printf extra",
        '{{printf "x" 1 "a"}}',
        None,
        "x%!(EXTRA int=1, string=a)",
        "fmt: extra operands",
    ),
    Case("bug16k", '{{"aaa"|printf }}', None, "aaa", "exec_test 'bug16k'"),
    Case(
        "printf %T",
        "{{printf `%T` 0xef}} {{printf `%T` 1.0}} {{printf `%T` .}}",
        ["a"],
        "int float64 []string",
        "exec_test 'bug12xe'",
    ),
    Case(
        "html",
        '{{html "<script>alert(\\"XSS\\");</script>"}}',
        None,
        "&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;",
        "exec_test 'html'",
    ),
    Case(
        "html untyped nil",
        "{{html .Empty0}}",
        T,
        "&lt;no value&gt;",
        "exec_test 'html untyped nil'",
    ),
    Case("js", "{{js .}}", "It'd be nice.", "It\\'d be nice.", "exec_test 'js'"),
    Case(
        "js escaping",
        "{{js .}}",
        '<html> = & "q"',
        '\\u003Chtml\\u003E \\u003D \\u0026 \\"q\\"',
        "TestJSEscaping",
    ),
    Case(
        "urlquery",
        '{{"http://www.example.org/"|urlquery}}',
        None,
        "http%3A%2F%2Fwww.example.org%2F",
        "exec_test 'urlquery'",
    ),
    # Comparison.
    Case(
        "eq",
        "{{eq 1 1}} {{eq 1 2}} {{eq `xy` `xy`}} {{eq 1.5 1.5}} {{eq true false}}",
        None,
        "true false true true false",
        "cmpTests 'eq 1 1' .. 'eq true false'",
    ),
    Case(
        "eq multi",
        "{{eq 3 4 5 6 3}} {{eq 3 4 5 6 7}}",
        None,
        "true false",
        "cmpTests 'eq 3 4 5 6 3'; doc.go: eq a b c is a==b || a==c",
    ),
    Case("ne", "{{ne 1 1}} {{ne `xy` `xyz`}}", None, "false true", "cmpTests 'ne 1 1'"),
    Case(
        "lt le gt ge",
        "{{lt 1 2}} {{le 2 2}} {{gt `xy` `xyz`}} {{ge 2.5 1.5}}",
        None,
        "true true false true",
        "cmpTests 'lt 1 2', 'le 1 1', 'gt `xy` `xyz`', 'ge 2.5 1.5'",
    ),
    Case("eq char", "{{eq (index `x` 0) 'x'}}", None, "true", "cmpTests 'eq (index `x` 0) 'x''"),
    Case(
        "eq nil",
        "{{eq .Empty0 nil}} {{eq .Empty0 0}}",
        T,
        "true false",
        "cmpTests 'eq .NilIface .NilIface', 'eq .NilIface 0'",
    ),
    # Templates.
    Case(
        "template call",
        '{{define "x"}}[{{.}}]{{end}}{{template "x" .S}}',
        T,
        "[xyz]",
        'doc.go {{template "name" pipeline}}',
    ),
    Case(
        "template without data",
        '{{define "x"}}{{.}}{{end}}{{template "x"}}',
        T,
        "<no value>",
        'doc.go: {{template "name"}} executes with nil data',
    ),
    Case(
        "template sees no variables",
        '{{define "x"}}{{$}}{{end}}{{$y := 1}}{{template "x" 2}}',
        None,
        "2",
        "doc.go: a template invocation does not inherit variables",
    ),
    Case(
        "block",
        'a({{block "inner" .}}bar({{.}})baz{{end}})b',
        "hello",
        "a(bar(hello)baz)b",
        "TestBlock",
    ),
    Case(
        "recursive define",
        '{{define "r"}}{{if .}}{{index . 0}}{{template "r" slice . 1}}'
        '{{end}}{{end}}{{template "r" .}}',
        [1, 2, 3],
        "123",
        "doc.go nested definitions",
    ),
    # Trimming and comments.
    Case("trim", "{{23 -}} < {{- 45}}", None, "23<45", "doc.go 'Text and spaces' example"),
    Case(
        "minus number is not a trim marker",
        "{{-3}}",
        None,
        "-3",
        'doc.go: "{{-3}}" parses as an action containing -3',
    ),
    Case(
        "comments",
        "a {{/* c */}} b {{- /* c2 */ -}} c",
        None,
        "a  bc",
        "doc.go comments, with white space trimmed",
    ),
    Case(
        "multi-line action",
        "{{if\n  true\n}}yes{{end}}",
        None,
        "yes",
        "lex.go: newlines are space inside actions (Go 1.16)",
    ),
]


@pytest.mark.parametrize("case", ADAPTER_CASES + EXEC_CASES, ids=lambda c: c.name)
def test_execute(case: Case) -> None:
    assert render(case) == case.want, case.cite


# (text, data, exact Go message) - exec_test.go and exec.go/funcs.go error texts.
EXEC_ERRORS = [
    pytest.param(
        "<<.Foo>>",
        ARGS,
        'template: metrics-query:1:2: executing "metrics-query" at <.Foo>: '
        "can't evaluate field Foo in type naming.queryTemplateArgs",
        id="unknown field on struct (TestEvalFieldErrors MissingFieldOnNonNil)",
    ),
    pytest.param(
        "sum(<<.Series.Name>>)",
        ARGS,
        'template: metrics-query:1:13: executing "metrics-query" at <.Series.Name>: '
        "can't evaluate field Name in type string",
        id="field of a string (TestExecuteGivesExecError; chain reported at its 2nd field)",
    ),
    pytest.param(
        "<<index .LabelValuesByName 1>>",
        ARGS,
        'template: metrics-query:1:2: executing "metrics-query" at '
        "<index .LabelValuesByName 1>: error calling index: value has type int; should be string",
        id="index map with wrong key type (exec_test 'map[WRONG]')",
    ),
    pytest.param(
        "<<index .GroupBySlice 5>>",
        ARGS,
        'template: metrics-query:1:2: executing "metrics-query" at <index .GroupBySlice 5>: '
        "error calling index: index out of range: 5",
        id="index out of range (exec_test 'slice[HUGE]')",
    ),
    pytest.param(
        "<<index>>",
        ARGS,
        'template: metrics-query:1:2: executing "metrics-query" at <index>: '
        "wrong number of args for index: want at least 1 got 0",
        id="wrong number of args for index (evalCall)",
    ),
    pytest.param(
        "<<eq .Series 1>>",
        ARGS,
        'template: metrics-query:1:2: executing "metrics-query" at <eq .Series 1>: '
        "error calling eq: incompatible types for comparison: string and int",
        id="eq of incompatible kinds (cmpTests 'eq `xy` 1')",
    ),
    pytest.param(
        "<<lt true true>>",
        None,
        'template: metrics-query:1:2: executing "metrics-query" at <lt true true>: '
        "error calling lt: invalid type for comparison",
        id="lt of bools (cmpTests 'lt true true')",
    ),
    pytest.param(
        "<<eq 2 2.0>>",
        None,
        'template: metrics-query:1:2: executing "metrics-query" at <eq 2 2.0>: '
        "error calling eq: incompatible types for comparison: int and float64",
        id="eq int float (cmpTests 'eq 2 2.0')",
    ),
    pytest.param(
        "<<ne 1>>",
        None,
        'template: metrics-query:1:2: executing "metrics-query" at <ne>: '
        "wrong number of args for ne: want 2 got 1",
        id="ne arity",
    ),
    pytest.param(
        "<<len 3>>",
        None,
        'template: metrics-query:1:2: executing "metrics-query" at <len 3>: '
        "error calling len: len of type int",
        id="len of int (exec_test 'len of int')",
    ),
    pytest.param(
        "<<nil>>",
        None,
        'template: metrics-query:1:2: executing "metrics-query" at <nil>: nil is not a command',
        id="nil action (exec_test 'nil action')",
    ),
    pytest.param(
        "<<3 2>>",
        None,
        'template: metrics-query:1:2: executing "metrics-query" at <3>: '
        "can't give argument to non-function 3",
        id="bug7a",
    ),
    pytest.param(
        "<<1|printf>>",
        None,
        'template: metrics-query:1:4: executing "metrics-query" at <printf>: '
        "wrong type for value; expected string; got int",
        id="bug16b",
    ),
    pytest.param(
        "<<.unexported>>",
        T,
        'template: metrics-query:1:2: executing "metrics-query" at <.unexported>: '
        "unexported is an unexported field of struct type *template.T",
        id="exec_test '.unexported'",
    ),
    pytest.param(
        "<<.MSI.one 1>>",
        T,
        'template: metrics-query:1:6: executing "metrics-query" at <.MSI.one>: '
        "one is not a method but has arguments",
        id="exec_test 'map .WRONG args'",
    ),
    pytest.param(
        "<<range .X>><<end>>",
        T,
        'template: metrics-query:1:8: executing "metrics-query" at <.X>: '
        "range can't iterate over x",
        id="range over a string (walkRange default case)",
    ),
    pytest.param(
        "<<range $i, $v := 3>><<end>>",
        None,
        'template: metrics-query:1:18: executing "metrics-query" at <3>: '
        "can't use 3 to iterate over more than one variable",
        id="exec_test 'range iter.Seq[int] over two var' for ints",
    ),
    pytest.param(
        '<<template "nope">>',
        None,
        'template: metrics-query:1:11: executing "metrics-query" at <{{template "nope"}}>: '
        'template "nope" not defined',
        id="template not defined (walkTemplate)",
    ),
    pytest.param(
        "<<index nil 1>>",
        None,
        'template: metrics-query:1:2: executing "metrics-query" at <index nil 1>: '
        "error calling index: index of untyped nil",
        id="exec_test 'nil[1]' / TestInterfaceValues",
    ),
    pytest.param(
        "<<call .X>>",
        T,
        'template: metrics-query:1:2: executing "metrics-query" at <call .X>: '
        "error calling call: non-function .X of type string",
        id="TestFunctionCheckDuringCall 'call non-function'",
    ),
    pytest.param(
        "<<slice .SI 2 1>>",
        T,
        'template: metrics-query:1:2: executing "metrics-query" at <slice .SI 2 1>: '
        "error calling slice: invalid slice index: 2 > 1",
        id="exec_test 'slice[2:1]'",
    ),
]


@pytest.mark.parametrize(("text", "data", "message"), EXEC_ERRORS)
def test_execution_errors(text: str, data: object, message: str) -> None:
    tmpl = Template.parse(text, name="metrics-query", left_delim="<<", right_delim=">>")
    with pytest.raises(TemplateExecError) as raised:
        tmpl.execute(data)
    assert str(raised.value) == message


def test_error_in_nested_template_names_it_and_its_line() -> None:
    """TestExecError: location from the parsed text, name of the executing template."""
    text = (
        'line 1\nline 2\nline 3\n{{template "one" .}}\n'
        '{{define "one"}}{{template "two" .}}{{end}}\n'
        '{{define "two"}}{{template "three" .}}{{end}}\n'
        '{{define "three"}}{{index "hi" $}}{{end}}'
    )
    with pytest.raises(TemplateExecError) as raised:
        Template.parse(text, name="top").execute(5)
    assert str(raised.value) == (
        'template: top:7:20: executing "three" at <index "hi" $>: '
        "error calling index: index out of range: 5"
    )


# (text, exact Go message) - parse.go / lex.go error texts.
PARSE_ERRORS = [
    pytest.param(
        "<< .X } >>", 'template: t:1: unexpected "}" in operand', id="unexpected char in operand"
    ),
    pytest.param(
        "<<foo .X>>", 'template: t:1: function "foo" not defined', id="function not defined"
    ),
    pytest.param("sum(<<.Series", "template: t:1: unclosed action", id="unclosed action"),
    pytest.param(
        "<<.Series\n",
        "template: t:2: unclosed action started at t:1",
        id="unclosed action spanning lines",
    ),
    pytest.param(
        "hello\n\n<<`unterminated\n\n>>\n",
        "template: t:3: unterminated raw quoted string",
        id="TestUnterminatedStringError",
    ),
    pytest.param('<<"abc>>', "template: t:1: unterminated quoted string", id="unterminated string"),
    pytest.param("<<end>>", "template: t:1: unexpected {{end}}", id="stray end"),
    pytest.param("<<else>>", "template: t:1: unexpected {{else}}", id="stray else"),
    pytest.param("<<if .X>>a", "template: t:1: unexpected EOF", id="missing end"),
    pytest.param(
        "<<range .>><<else>><<else>><<end>>",
        "template: t:1: expected end; found {{else}}",
        id="two elses",
    ),
    pytest.param("<<$x>>", 'template: t:1: undefined variable "$x"', id="undefined variable"),
    pytest.param(
        "<<if true>><<$x := 1>><<end>><<$x>>",
        'template: t:1: undefined variable "$x"',
        id="variable scope ends at end",
    ),
    pytest.param(
        "<<break>>", "template: t:1: {{break}} outside {{range}}", id="break outside range"
    ),
    pytest.param(
        "<<continue>>", "template: t:1: {{continue}} outside {{range}}", id="continue outside range"
    ),
    pytest.param("<<>>", "template: t:1: missing value for command", id="empty action"),
    pytest.param(
        "<<.X | 3>>",
        "template: t:1: non executable command in pipeline stage 2",
        id="non executable pipeline stage",
    ),
    pytest.param(
        "<</* c */ >>",
        "template: t:1: comment ends before closing delimiter",
        id="comment not at delimiter",
    ),
    pytest.param("<</* c", "template: t:1: unclosed comment", id="unclosed comment"),
    pytest.param("<<.X=3>>", "template: t:1: bad character U+003D '='", id="bad character"),
    pytest.param("<<3k>>", 'template: t:1: bad number syntax: "3k"', id="bad number"),
    pytest.param(
        "<<99999999999999999999>>",
        'template: t:1: integer overflow: "99999999999999999999"',
        id="integer overflow",
    ),
    pytest.param('<<"\\q">>', "template: t:1: invalid syntax", id="bad escape"),
    pytest.param("<<(.X>>", "template: t:1: unclosed left paren", id="unclosed paren"),
    pytest.param("<<.X)>>", 'template: t:1: unexpected ")" in command', id="unexpected paren"),
    pytest.param(
        "<<range $a, $b, $c := .>><<end>>",
        "template: t:1: too many declarations in range",
        id="three range variables",
    ),
    pytest.param(
        "<<with $a, $b := .>><<end>>",
        "template: t:1: too many declarations in with",
        id="two with variables",
    ),
    pytest.param(
        '<<define "a">>x<<end>><<define "a">>y<<end>>',
        'template: t:1: template: multiple definition of template "a"',
        id="redefinition",
    ),
    pytest.param(
        "<<true.X>>", 'template: t:1: unexpected . after term "true"', id="field of a literal"
    ),
    pytest.param(
        "<<.X →>>",
        "template: t:1: unrecognized character in action: U+2192 '→'",
        id="unrecognized character",
    ),
]


@pytest.mark.parametrize(("text", "message"), PARSE_ERRORS)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateSyntaxError) as raised:
        Template.parse(text, name="t", left_delim="<<", right_delim=">>")
    assert str(raised.value) == message


def test_deep_nesting_is_a_syntax_error_not_a_crash() -> None:
    """parse.go term(): "max expression depth exceeded" (Go's limit is higher, see module)."""
    text = "<<" + "(" * 150 + "1" + ")" * 150 + ">>"
    with pytest.raises(TemplateSyntaxError, match="max expression depth exceeded"):
        Template.parse(text, name="t", left_delim="<<", right_delim=">>")
    assert Template.parse("{{" + "(" * 50 + "1" + ")" * 50 + "}}").execute(None) == "1"


def test_recursive_template_stops_with_an_error() -> None:
    """TestMaxExecDepth: a template that calls itself fails instead of overflowing."""
    with pytest.raises(TemplateExecError, match="exceeded maximum template depth"):
        Template.parse('{{template "tmpl" .}}', name="tmpl").execute(None)


def test_default_delimiters_leave_adapter_delimiters_alone() -> None:
    """Delims: with {{ }} the text << >> is plain text and vice versa (TestDelims)."""
    assert Template.parse("<<.X>>{{.X}}").execute(T) == "<<.X>>x"
    adapter = Template.parse("{{.X}}<<.X>>", left_delim="<<", right_delim=">>")
    assert adapter.execute(T) == "{{.X}}x"
    # A string literal may contain the left delimiter (TestDelims).
    assert Template.parse('<<"<<">>', left_delim="<<", right_delim=">>").execute(None) == "<<"


def test_errors_share_one_base_that_is_a_value_error() -> None:
    """Callers catch TemplateError (or ValueError) for both failure kinds."""
    assert issubclass(TemplateSyntaxError, TemplateError)
    assert issubclass(TemplateExecError, TemplateError)
    assert issubclass(TemplateError, ValueError)


def test_parsed_template_is_reused_without_state_leaking() -> None:
    """Execute may run many times (and concurrently in Go): nothing carries over."""
    tmpl = Template.parse(
        "<<$n := .Series>><<range .GroupBySlice>><<$n = .>><<end>><<$n>>:<<.GroupBy>>",
        left_delim="<<",
        right_delim=">>",
    )
    assert tmpl.execute(query_args(series="a", group_by=["x", "y"])) == "y:x,y"
    assert tmpl.execute(query_args(series="b", group_by=[])) == "b:"


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        pytest.param("<<.Resource>>", "Resource", True, id="plain field"),
        pytest.param("kube_<<.Group>>_<<.Resource>>", "Resource", True, id="with group"),
        pytest.param("kube_<<.Group>>", "Resource", False, id="group only"),
        pytest.param(
            "<<if .X>><<printf `%s` $.Resource>><<end>>",
            "Resource",
            True,
            id="variable chain inside if",
        ),
        pytest.param("<<(.).Resource>>", "Resource", True, id="chain node"),
        pytest.param(
            '<<define "x">><<.Resource>><<end>>label', "Resource", True, id="inside a define"
        ),
        pytest.param("<<`.Resource`>>", "Resource", False, id="string literal is not a field"),
        pytest.param("resource", "Resource", False, id="plain text"),
    ],
)
def test_references_field(text: str, field: str, expected: bool) -> None:
    """prometheus-adapter requires resources.template to mention .Resource (lbl_res.go)."""
    tmpl = Template.parse(text, name="resource-label", left_delim="<<", right_delim=">>")
    assert tmpl.references_field(field) is expected
