"""How words a user typed become manage.py arguments, and which superuser variables are needed."""

from __future__ import annotations

import pytest

from stack.cli import line_count, remainder_words, split_arguments
from stack.django import manage_command, superuser_variables
from stack.errors import StackError


def test_manage_command_is_an_argument_list():
    assert manage_command(["check", "--deploy"]) == ["python", "manage.py", "check", "--deploy"]
    assert manage_command([]) == ["python", "manage.py"]


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("check; touch /tmp/pwned", ["check;", "touch", "/tmp/pwned"]),
        ("shell -c '$(id)'", ["shell", "-c", "$(id)"]),
        ("check $(id)", ["check", "$(id)"]),
        ("check `id`", ["check", "`id`"]),
        ("check && rm -rf /", ["check", "&&", "rm", "-rf", "/"]),
        ("check | tee out > /etc/passwd", ["check", "|", "tee", "out", ">", "/etc/passwd"]),
        ("""shell --command "print('hi there')" """, ["shell", "--command", "print('hi there')"]),
        ("loaddata 'my fixture.json'", ["loaddata", "my fixture.json"]),
        ("", []),
    ],
)
def test_split_arguments_never_gives_shell_syntax_a_meaning(typed, words):
    assert split_arguments(typed, task_name="manage") == words


def test_split_arguments_joins_the_quoted_string_and_the_remainder():
    assert split_arguments("migrate guestbook", remainder="--plan --verbosity 2", task_name="manage") == [
        "migrate", "guestbook", "--plan", "--verbosity", "2",
    ]


def test_split_arguments_ignores_missing_sources():
    assert split_arguments(None, "", None, task_name="manage") == []


def test_words_after_double_dash_come_from_the_command_line_as_typed():
    words = ["python", "-c", "print('a b'); print(\"$HOME\")", "x  y"]
    argv = ["inv", "--dry", "exec", "--", *words]
    # What Invoke puts in Context.remainder: the words joined with spaces, quoting lost.
    assert remainder_words(" ".join(words), argv) == words


def test_a_remainder_that_is_not_this_command_lines_is_split_like_a_shell():
    assert remainder_words("check --tag 'a b'", ["pytest", "-q"]) == ["check", "--tag", "a b"]
    assert remainder_words("check --deploy", ["inv", "manage", "--", "other"]) == ["check", "--deploy"]


@pytest.mark.parametrize("typed", ["check 'unbalanced", 'shell -c "oops', "trailing\\"])
def test_unbalanced_quotes_are_a_clean_error_naming_the_task(typed):
    with pytest.raises(StackError) as caught:
        split_arguments(typed, task_name="exec")
    assert "inv exec" in caught.value.message and "quotes" in caught.value.message
    assert caught.value.code == 1


@pytest.mark.parametrize("value", ["0", "25", "all"])
def test_line_count_accepts_numbers_and_all(value):
    assert line_count(value, "--tail") == value


@pytest.mark.parametrize("value", ["-5", "ten", "5 ; id", "ALL", "1.5", "5²", "٣"])
def test_line_count_refuses_anything_else_naming_the_option(value):
    with pytest.raises(StackError) as caught:
        line_count(value, "--tail")
    assert "--tail" in caught.value.message and repr(value) in caught.value.message


FULL = {
    "DJANGO_SUPERUSER_USERNAME": "admin",
    "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
    "DJANGO_SUPERUSER_PASSWORD": "s3cret",
}


def test_superuser_variables_all_set():
    assert superuser_variables(FULL, username="", email="") == [
        "DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_EMAIL", "DJANGO_SUPERUSER_PASSWORD",
    ]


def test_superuser_variables_missing_names_each_one():
    with pytest.raises(StackError) as caught:
        superuser_variables({"DJANGO_SUPERUSER_USERNAME": "", "DJANGO_SUPERUSER_EMAIL": "a@b.c"}, username="", email="")
    message = caught.value.message
    assert "DJANGO_SUPERUSER_USERNAME" in message and "DJANGO_SUPERUSER_PASSWORD" in message
    assert "DJANGO_SUPERUSER_EMAIL" not in message


def test_username_and_email_on_the_command_line_leave_only_the_password_required():
    assert superuser_variables({"DJANGO_SUPERUSER_PASSWORD": "pw"}, username="admin", email="a@b.c") == [
        "DJANGO_SUPERUSER_PASSWORD",
    ]


def test_the_password_is_always_required():
    with pytest.raises(StackError) as caught:
        superuser_variables({}, username="admin", email="a@b.c")
    assert "DJANGO_SUPERUSER_PASSWORD" in caught.value.message
    assert "DJANGO_SUPERUSER_USERNAME" not in caught.value.message
