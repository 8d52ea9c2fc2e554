"""Priority -> Android NotificationChannel importance and iOS interruption level."""

import pytest

import notifclf
from notifclf import (
    Classification,
    InvalidPriorityError,
    android_importance,
    android_importance_name,
    ios_interruption_level,
)


@pytest.mark.parametrize("priority,importance,name,ios", [
    (1, 2, "IMPORTANCE_LOW", "passive"),
    (2, 3, "IMPORTANCE_DEFAULT", "active"),
    (3, 4, "IMPORTANCE_HIGH", "timeSensitive"),
])
def test_each_priority_maps_to_the_platform_constants(priority, importance, name, ios):
    assert android_importance(priority) == importance
    assert android_importance_name(priority) == name
    assert ios_interruption_level(priority) == ios
    result = Classification("Work", priority)
    assert (android_importance(result), ios_interruption_level(result)) == (importance, ios)


def test_the_android_constants_match_notification_manager():
    from notifclf import priority_mapping as pm

    assert (pm.ANDROID_IMPORTANCE_LOW, pm.ANDROID_IMPORTANCE_DEFAULT, pm.ANDROID_IMPORTANCE_HIGH) == (2, 3, 4)


@pytest.mark.parametrize("bad", [0, 4, -1, True, 2.0, "2", None, Classification("Work", 7)])
@pytest.mark.parametrize("helper", [android_importance, android_importance_name, ios_interruption_level])
def test_bad_priorities_raise_a_clear_value_error(helper, bad):
    with pytest.raises(InvalidPriorityError, match="priority must be 1, 2 or 3") as info:
        helper(bad)
    assert isinstance(info.value, ValueError) and isinstance(info.value, notifclf.NotifclfError)
