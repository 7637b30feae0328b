from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from tenants.passwords import MAX_LENGTH


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_LENGTH)])


class CodeForm(FlaskForm):
    """The second step: a code from the app, an e-mail or an SMS, or a recovery code."""
    method = HiddenField(validators=[DataRequired()])
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=40)])


class SendCodeForm(FlaskForm):
    channel = HiddenField(validators=[DataRequired()])


class ReauthPasswordForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_LENGTH)])


class TotpConfirmForm(FlaskForm):
    code = StringField(_l("Code from the app"), validators=[DataRequired(), Length(max=12)])


class CodeChannelForm(FlaskForm):
    channel = SelectField(_l("Send codes by"), choices=[SelectChoice("email", _l("E-mail")),
                                                                SelectChoice("sms", _l("SMS"))])
    phone = StringField(_l("Mobile phone (for SMS)"), validators=[Optional(), Length(max=32)])


class ConfirmCodeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=12)])


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=160)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32)])


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=MAX_LENGTH)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=MAX_LENGTH)])
    confirm = PasswordField(_l("New password again"),
                            validators=[DataRequired(), EqualTo("new", message=_l("The two passwords differ."))])


class ForgotForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])


class ResetForm(FlaskForm):
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=MAX_LENGTH)])
    confirm = PasswordField(_l("New password again"),
                            validators=[DataRequired(), EqualTo("new", message=_l("The two passwords differ."))])


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=80)])
