"""Matomo's segment grammar: precedence, escapes, URL-encoding, empty values, and errors that say where."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.segments.grammar import IS_EMPTY, IS_NOT_EMPTY, Condition, SegmentError, definition, parse
from analytics.segments.query import visits_sql


def shape(expression):
    return [[(c.name, c.operator, c.value) for c in ors] for ors in parse(expression)]


@pytest.mark.parametrize("expression, meaning", [
    ("", []),
    ("   ", []),
    ("visitCount>=2", [[("visitCount", ">=", "2")]]),
    # `,` (OR) binds tighter than `;` (AND): A,B;C is (A or B) and C
    ("browserCode==FF,browserCode==CH;visitCount>2",
     [[("browserCode", "==", "FF"), ("browserCode", "==", "CH")], [("visitCount", ">", "2")]]),
    ("a==1;b==2,c==3", [[("a", "==", "1")], [("b", "==", "2"), ("c", "==", "3")]]),
    # every operator, the longest first where two share a start (>= before >)
    ("x!=1;x<=1;x<1;x>1;x=@a;x!@a;x=^a;x=$a",
     [[("x", "!=", "1")], [("x", "<=", "1")], [("x", "<", "1")], [("x", ">", "1")], [("x", "=@", "a")],
      [("x", "!@", "a")], [("x", "=^", "a")], [("x", "=$", "a")]]),
    # escaped delimiters are part of the value
    (r"pageTitle==a\;b\,c", [[("pageTitle", "==", "a;b,c")]]),
    # values are URL-decoded (twice, as Matomo: the query string, then the expression)
    ("pageUrl=@%252Fblog%253Fx%253D1", [[("pageUrl", "=@", "/blog?x=1")]]),
    ("pageUrl=@%2Fblog", [[("pageUrl", "=@", "/blog")]]),
    ("referrerName==Le+Monde", [[("referrerName", "==", "Le Monde")]]),
    # an encoded ; or , is a value character, not a delimiter
    ("pageTitle==a%3Bb", [[("pageTitle", "==", "a;b")]]),
    # the first operator wins: the value may hold operators
    ("pageUrl==https://s.example/?a==b", [[("pageUrl", "==", "https://s.example/?a==b")]]),
    # empty values: == is empty (null, '' or 0), != is not empty
    ("userId==", [[("userId", IS_EMPTY, "")]]),
    ("userId!=;visitCount>1", [[("userId", IS_NOT_EMPTY, "")], [("visitCount", ">", "1")]]),
    # a trailing delimiter is not one (Matomo's split needs something after it)
    ("pageTitle==a;", [[("pageTitle", "==", "a;")]]),
    ("a==1;;b==2", [[("a", "==", "1")], [("b", "==", "2")]]),
])
def test_expressions_mean_what_matomo_makes_of_them(expression, meaning):
    assert shape(expression) == meaning


@pytest.mark.parametrize("expression, words", [
    ("visitCount", ["position 0", "not valid"]),
    ("visitCount==1;pageUrl", ["position 14", "not valid"]),
    ("visitCount==1,userId>", ["position 14", "no value"]),
    ("pageUrl=@", ["position 0", "no value"]),
    ("==3", ["position 0", "not valid"]),
    ("page url==3", ["position 0", "not a segment dimension name"]),
    ("x" * 9000 + "==1", ["at most 8192"]),
])
def test_a_bad_expression_says_where_and_what(expression, words):
    with pytest.raises(SegmentError) as error:
        parse(expression)
    assert all(word in str(error.value) for word in words), str(error.value)


@pytest.mark.parametrize("expression, words", [
    ("nosuchThing==1", ["nosuchThing", "position 0", "API.getSegmentsMetadata"]),
    ("visitCount==1;visitCount>many", ["visitCount", "position 14", "numbers"]),
])
def test_an_unknown_dimension_or_a_bad_number_says_where(expression, words):
    with pytest.raises(SegmentError) as error:
        visits_sql(parse(expression), timezone="UTC")
    assert all(word in str(error.value) for word in words), str(error.value)


def test_values_only_reach_sql_as_parameters():
    sql, params = visits_sql(parse("pageTitle==x')%3BDROP TABLE t%3B--,userId=@%25_"), timezone="Europe/Paris")
    assert "DROP" not in sql and "x');DROP TABLE t" in params[0]
    assert params[1] == "%\\%\\_%"  # LIKE wildcards in a value match themselves
    assert sql.count("%s") == len(params)


def test_the_canonical_definition_reads_back_the_same():
    expression = r"pageTitle==a\;b,userId==;visitCount>=2"
    assert shape(definition(parse(expression))) == shape(expression)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab=!<>@^$;,\\%2F+ 1")), max_size=40))
def test_any_text_parses_or_is_refused_with_a_message(text):
    try:
        segment = parse(text)
    except SegmentError as error:
        assert str(error)
        return
    assert all(isinstance(c, Condition) and c.name for ors in segment for c in ors)


def test_every_ready_made_segment_reads_and_compiles():
    from analytics.segments.presets import PRESETS
    for _kind, name, expression in PRESETS:
        sql, params = visits_sql(parse(expression), timezone="Europe/Paris")
        assert sql.count("%s") == len(params), name
